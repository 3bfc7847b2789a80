"""What the kernel says about processes and the machine: CPU ticks, RSS, open fds.

Read from /proc directly, without forking: the samples are taken on the load
generator's core while it runs.
"""
import os

HZ = os.sysconf("SC_CLK_TCK")


def _stat_fields(pid):
    """Fields from the 3rd on of /proc/PID/stat (the name may hold spaces)."""
    with open("/proc/%s/stat" % pid) as f:
        return f.read().rsplit(")", 1)[1].split()


def cpu_ticks(pids):
    """utime + stime of the processes, in clock ticks; ones that are gone count 0."""
    total = 0
    for pid in pids:
        try:
            f = _stat_fields(pid)
        except OSError:
            continue
        total += int(f[11]) + int(f[12])
    return total


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open("/proc/%s/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def rss_parts_kib(pids):
    """Resident memory split as the kernel counts it: anon (heap, stacks: what a leak
    grows), file (mapped files: the LMDB map and libraries, pages the kernel can drop and
    reread) and shmem."""
    out = {"anon": 0, "file": 0, "shmem": 0}
    for pid in pids:
        try:
            with open("/proc/%s/status" % pid) as f:
                for line in f:
                    for k in out:
                        if line.startswith("Rss%s:" % k.capitalize()):
                            out[k] += int(line.split()[1])
        except OSError:
            pass
    return out


def open_fds(pid):
    try:
        return len(os.listdir("/proc/%s/fd" % pid))
    except OSError:
        return None


def children(pid):
    """Direct children of pid (a server's forked workers)."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if int(_stat_fields(d)[1]) == pid:
                out.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return out


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie has not been reaped yet but is gone for every purpose here.
    try:
        return _stat_fields(pid)[0] != "Z"
    except OSError:
        return False


class SysSnap:
    """Machine-wide busy and steal ticks, and this process's own and reaped children's.

    irq and softirq time is left out: with IRQ time accounting the kernel charges the
    loopback traffic of our own runs there, to no process.
    """

    def __init__(self):
        with open("/proc/stat") as f:
            c = f.readline().split()
        self.busy = int(c[1]) + int(c[2]) + int(c[3])
        self.steal = int(c[8])
        f = _stat_fields("self")
        self.self_ticks = sum(int(x) for x in f[11:15])


def others_since(snap, server_ticks):
    """CPU seconds that neither the server nor this process and the children it reaped
    used since snap (other processes and kernel threads on a shared machine: the usual
    cause of a noisy round), and the steal seconds. The generator must have been reaped."""
    now = SysSnap()
    other = (now.busy - snap.busy) - server_ticks - (now.self_ticks - snap.self_ticks)
    return max(other, 0) / HZ, (now.steal - snap.steal) / HZ, now
