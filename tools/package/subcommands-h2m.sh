#!/usr/bin/env bash
# subcommands-h2m.sh UPDCACHE OUT: a help2man include with every subcommand's --help, as
# the binary prints it, so that updcache(1) cannot drift from the tool.
set -euo pipefail
tool=$1 out=$2
roff() { sed -e 's/\\/\\e/g' -e "s/^\\([.']\\)/\\\\\\&\\1/"; }
{
    echo "[SUBCOMMANDS]"
    "$tool" --help | awk '/^subcommands:/ {on = 1; next} on && NF == 0 {exit} on {print $1}' |
        while read -r cmd; do
            echo ".SS $cmd"
            echo ".nf"
            "$tool" "$cmd" --help | roff
            echo ".fi"
        done
} >"$out.tmp"
mv "$out.tmp" "$out"
