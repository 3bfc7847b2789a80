#!/usr/bin/env python3
"""conf2man.py CONF VERSION OUT: updcache.conf(5) from the commented default config, so
the manual and the shipped file are one text. The comment block before the first section
is the description; each following comment block is the meaning of the key lines under
it ("#key = default", or "key = value" where the package sets one)."""
import re
import sys

conf, version, out = sys.argv[1:4]


def roff(text):
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return re.sub(r"^([.'])", r"\\&\1", text, flags=re.M)


intro, blocks, section, comment = [], [], None, []
for line in open(conf, encoding="utf-8"):
    line = line.rstrip("\n")
    key = re.match(r"^#?([a-z_]+) =(.*)$", line)
    if line.startswith("[") and line.endswith("]"):
        section, comment = line[1:-1], []
        blocks.append(("section", section, None))
    elif key:
        blocks.append(("key", key.group(1), (key.group(2).strip(), not line.startswith("#"),
                                             " ".join(comment))))
    elif line.startswith("#"):
        text = line[1:].strip()
        if section is None:
            intro.append(text)
        elif blocks and blocks[-1][0] == "key" and not comment:
            comment = [text]
        else:
            comment.append(text)
    elif not line.strip():
        if section is not None:
            comment = []
        elif intro and intro[-1]:
            intro.append("")

o = [f'.TH UPDCACHE.CONF 5 "" "updcache {version}" "File Formats"',
     ".SH NAME", "updcache.conf \\- configuration of updcached and the updcache tool",
     ".SH SYNOPSIS", ".I /etc/updcache/updcache.conf", ".SH DESCRIPTION"]
for para in "\n".join(intro[1:]).strip().split("\n\n"):
    o += [roff(" ".join(para.split("\n"))), ".PP"]
o[-1:] = []
for kind, name, data in blocks:
    if kind == "section":
        o += [f".SH SECTION [{name}]"]
        continue
    value, set_here, meaning = data
    shown = value if value else "(none)"
    o += [".TP", f"\\fB{roff(name)}\\fR = {roff(shown)}" +
          (" (set in the shipped file)" if set_here else ""), roff(meaning)]
o += [".SH FILES", ".TP", ".I /etc/updcache/updcache.conf",
      "The file read when no \\fB\\-\\-config\\fR is given; the defaults apply when it does "
      "not exist.", ".SH SEE ALSO", ".BR updcached (8),", ".BR updcache (1)"]
open(out, "w", encoding="utf-8").write("\n".join(o) + "\n")
