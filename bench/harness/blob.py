"""Random bytes, fast: AES-CTR over zeros (as bench/ingest), one key per seed, so that
every file is unique (the store deduplicates by digest) and a seed always gives the
same bytes."""
import subprocess


def stream(nbytes, seed, chunk=1 << 20):
    """The first nbytes of the stream of seed, in chunks."""
    p = subprocess.Popen(["openssl", "enc", "-aes-128-ctr", "-K", "%032x" % seed, "-iv", "0" * 32],
                         stdin=open("/dev/zero", "rb"), stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL)
    try:
        left = nbytes
        while left:
            b = p.stdout.read(min(chunk, left))
            if not b:
                raise RuntimeError("openssl enc ended early")
            left -= len(b)
            yield b
    finally:
        p.kill()
        p.wait()


def write(path, nbytes, seed):
    with open(path, "wb") as f:
        for b in stream(nbytes, seed):
            f.write(b)
