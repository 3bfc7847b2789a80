"""A TLS lab for the scenarios that need one (tls-meta, sync): a server name, a private
CA and certificate for it, a publisher key, and a store of signed updates, all kept in
--cache under a stamp; and clients that trust only that CA."""
import base64
import json
import os
import re
import shutil
import subprocess

from . import probe, spawn
from .context import Fatal

DOWNSTREAM = ("bench", "benchsecret")  # as updcached-tls.conf.in accepts


class Lab:
    def __init__(self, run, name, d):
        self.run = run
        self.name = name
        self.dir = d
        self.cert = os.path.join(d, "certs", name + ".pem")
        self.key = os.path.join(d, "certs", name + ".key")
        self.ca = os.path.join(d, "certs", "ca.pem")
        self.pubkey = os.path.join(d, "publisher.key.pub")
        self.store = os.path.join(d, "store")
        self.conf = os.path.join(d, "updcache.conf")

    def ensure_cert(self, log):
        """Kept between runs; a new one when it would expire within a day."""
        os.makedirs(self.dir, exist_ok=True)
        fresh = os.path.getsize(self.key) > 0 if os.path.exists(self.key) else False
        if fresh and os.path.exists(self.ca):
            fresh = spawn.output(["openssl", "x509", "-checkend", "86400", "-noout", "-in", self.cert]) is not None
        if not fresh:
            shutil.rmtree(os.path.join(self.dir, "certs"), ignore_errors=True)
            if spawn.run([self.run.updcache, "mkcert", self.name, "--out", os.path.join(self.dir, "certs")],
                         log, 120):
                raise Fatal("updcache mkcert failed (see %s)" % log)

    def stamped(self, stamp):
        try:
            with open(os.path.join(self.dir, "stamp")) as f:
                return f.read().strip() == stamp and os.path.isdir(self.store)
        except OSError:
            return False

    def new_store(self, log):
        """An empty store and a new publisher key; the stamp is written by set_stamp."""
        for p in ("store", "gen"):
            shutil.rmtree(os.path.join(self.dir, p), ignore_errors=True)
        for p in ("stamp", "publisher.key", "publisher.key.pub"):
            if os.path.exists(os.path.join(self.dir, p)):
                os.unlink(os.path.join(self.dir, p))
        with open(self.conf, "w") as f:
            f.write("[server]\nstore = %s\n" % self.store)
        if spawn.run([self.run.updcache, "keygen", "--out", os.path.join(self.dir, "publisher.key")], log, 60):
            raise Fatal("updcache keygen failed (see %s)" % log)

    def add(self, title, files, log):
        env = dict(os.environ, UPDCACHE_NO_PROGRESS="1")
        with open(log, "ab") as out:
            rc = subprocess.run([self.run.updcache, "add", "--config", self.conf, "--key",
                                 os.path.join(self.dir, "publisher.key"), "--title", title] + files,
                                stdin=subprocess.DEVNULL, stdout=out, stderr=out, env=env, timeout=600).returncode
        if rc:
            raise Fatal("updcache add failed at '%s' (see %s)" % (title, log))

    def fresh_add(self, d, title, files):
        """An empty store in d (made anew) and the `updcache add` command that publishes
        files into it as one update with this lab's key: (its config, the command)."""
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        conf_path = os.path.join(d, "updcache.conf")
        with open(conf_path, "w") as f:
            f.write("[server]\nstore = %s\n" % os.path.join(d, "store"))
        return conf_path, [self.run.updcache, "add", "--config", conf_path, "--key",
                           os.path.join(self.dir, "publisher.key"), "--title", title] + files

    def sha1s(self, conf_path):
        """The SHA-1s `updcache ls --files` lists for a store, sorted ([] if it fails)."""
        ls = spawn.output([self.run.updcache, "ls", "--files", "--config", conf_path], 120) or ""
        return sorted(l.split("\t")[1] for l in ls.splitlines() if "\t" in l)

    def set_stamp(self, stamp):
        with open(os.path.join(self.dir, "stamp"), "w") as f:
            f.write(stamp + "\n")

    def request(self, port, path, **kw):
        return probe.request(port, path, tls=(self.name, self.ca), **kw)

    def new_cookie(self, port, timeout=5):
        """A downstream cookie from updcached's DSSAuthWebService, or None."""
        auth = base64.b64encode(("%s:%s" % DOWNSTREAM).encode()).decode()
        status, body = self.request(port, "/DSSAuthWebService/token", method="POST",
                                    headers={"Authorization": "Basic " + auth}, timeout=timeout)
        try:
            return json.loads(body).get("cookie") if status == 200 else None
        except ValueError:
            return None

    def cipher(self, port):
        """Protocol and cipher a default OpenSSL client (as wrk is) gets, or '?'."""
        try:
            p = subprocess.run(["openssl", "s_client", "-connect", "127.0.0.1:%d" % port,
                                "-servername", self.name], stdin=subprocess.DEVNULL,
                               capture_output=True, timeout=5)
        except subprocess.TimeoutExpired:
            return "?"
        m = re.search(r"^New, (.*), Cipher is (.*)$", p.stdout.decode(errors="replace"), re.M)
        return "%s %s" % m.groups() if m else "?"
