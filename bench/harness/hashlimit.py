"""The hashing limit L of bench/ingest, measured with its commands (keep them in step
with its openssl_mbps and xxh128_mbps): one core's SHA-1 and SHA-256 from openssl speed
on 16 KiB blocks, XXH128 from xxhsum's benchmark (its MB is 2^20 bytes), then
L = cores / (1/sha1 + 1/sha256 + 1/xxh128) in MB/s of 10^6 bytes. xxhsum -b11 runs only
the XXH128 row (variant 11, 100 KB sample) that bench/ingest reads from xxhsum -b, in
3 s instead of 12; an older xxhsum without -b# falls back to bench/ingest's commands.
A figure that cannot be measured is None."""
import re
import shutil
import subprocess


def _out(cmd):
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return (p.stdout + p.stderr).decode(errors="replace") if p.returncode == 0 else None


def openssl_mbps(alg):
    out = _out(["openssl", "speed", "-bytes", "16384", "-seconds", "2", "-evp", alg])
    x = None
    for line in (out or "").splitlines():
        f = line.split()
        if f and f[0] == alg and f[-1].endswith("k"):
            x = float(f[-1][:-1]) / 1000
    return x


def xxh128_mbps():
    if not shutil.which("xxhsum"):
        return None
    out = _out(["xxhsum", "-b11"])
    if not out or "XXH128" not in out:
        out = _out(["xxhsum", "-b", "-H2"]) or _out(["xxhsum", "-b"])
    line = None
    for l in (out or "").replace("\r", "\n").splitlines():
        if "XXH128" in l and "MB/s" in l:
            line = l
    m = re.search(r"\( *([0-9.]+) MB/s\)", line or "")
    return float(m.group(1)) * 1.048576 if m else None


def measure(ncpu):
    """{sha1, sha256, xxh128, L} in MB/s."""
    h = {"sha1": openssl_mbps("sha1"), "sha256": openssl_mbps("sha256"), "xxh128": xxh128_mbps()}
    # Rounded as bench/ingest prints them, before L is computed from them.
    h = {k: None if v is None else round(v, 1) for k, v in h.items()}
    h["L"] = None if None in h.values() else ncpu / (1 / h["sha1"] + 1 / h["sha256"] + 1 / h["xxh128"])
    return h
