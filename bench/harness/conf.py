"""Configs from the templates in bench/conf/*.in: every @FIELD@ filled in."""
import os
import re
import resource

SYNC_PARALLEL = 8


def nofile():
    """40000 as a deployment would set; lighttpd refuses to start when it may not raise
    its limit that far (no CAP_SYS_RESOURCE in a container), so stay under the hard one."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    return 40000 if hard == resource.RLIM_INFINITY or hard > 40000 else hard


def render(run, template, out, port, prefix, root=None, lab=None, **extra):
    """lab: the TLS lab (tlslab.Lab) whose name, certificate and keys the template uses."""
    user = ""
    if os.geteuid() == 0:
        user = 'server.username = "www-data"' if "lighttpd" in template else "user www-data;"
    fields = {
        "PORT": port, "PREFIX": prefix, "ROOT": root or os.path.join(run.cache, "store"),
        "WORKERS": 1, "NOFILE": nofile(), "USER_LINE": user, "PARALLEL": SYNC_PARALLEL,
        "NAME": lab.name if lab else "bench.updcache.test",
        "CERT": lab.cert if lab else "", "KEY": lab.key if lab else "",
        "CA_FILE": lab.ca if lab else "", "PUBLISHER_KEYS": lab.pubkey if lab else "",
    }
    fields.update({k.upper(): v for k, v in extra.items()})
    with open(os.path.join(run.repo, "bench", "conf", template)) as f:
        text = f.read()
    text = re.sub(r"@([A-Z_]+)@", lambda m: str(fields.get(m.group(1), "")), text)
    with open(out, "w") as f:
        f.write(text)
