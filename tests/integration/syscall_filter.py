#!/usr/bin/env python3
"""syscall_filter.py UNIT STRACE_LOG PROGRAM: every system call PROGRAM made after its
execve (strace -f log) must pass the unit's SystemCallFilter= lines, as systemd would
apply them (allow lists joined, ~deny lists taken out; @sets expanded with
systemd-analyze syscall-filter). Prints the calls seen and any the filter would refuse."""
import re
import subprocess
import sys

unit, log, program = sys.argv[1:4]

sets, cur = {}, None
for line in subprocess.run(["systemd-analyze", "syscall-filter"], capture_output=True,
                           text=True, check=True).stdout.splitlines():
    s = line.strip()
    if not s or s.startswith("#"):
        continue
    if not line.startswith(" "):
        cur = s
        sets[cur] = []
    elif cur:
        sets[cur].append(s)


def expand(name, seen=()):
    if not name.startswith("@"):
        return {name}
    out = set()
    for m in sets.get(name, []):
        if m not in seen:
            out |= expand(m, seen + (name,))
    return out


allow, deny = None, set()
for line in open(unit):
    m = re.match(r"^SystemCallFilter=(~?)(.*)$", line.strip())
    if not m:
        continue
    names = set()
    for n in m.group(2).split():
        names |= expand(n)
    if m.group(1):
        deny |= names
    else:
        allow = (allow or set()) | names
if allow is None:
    sys.exit("the unit has no allow list")
allowed = allow - deny

# The traced command execs its way to PROGRAM (prlimit, setpriv, env: no forks), so the
# first pid counts from that execve on, and every other pid is one of PROGRAM's threads.
first, started, used = None, False, set()
for line in open(log, errors="replace"):
    m = re.match(r"^(\d+) +(?:<\.\.\. )?([a-z0-9_]+)[( ]", line)
    if not m:
        continue
    pid, call = m.groups()
    first = first or pid
    if pid == first and not started:
        started = call == "execve" and f'"{program}"' in line and line.rstrip().endswith("= 0")
        continue
    used.add(call)
used.discard("exited")
refused = sorted(c for c in used if c not in allowed)
print(f"{len(used)} system calls seen: {' '.join(sorted(used))}")
if not started or not used:
    sys.exit(f"no call of {program} found in the log")
if refused:
    sys.exit(f"the unit's filter would refuse: {' '.join(refused)}")
