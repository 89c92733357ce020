#!/usr/bin/env python3
"""Where a perf profile's time goes, by owner: the crate a Rust symbol belongs to (its first
path segment: `tokio::…`, `<hyper::… as …>` -> hyper), or the library / kernel for the rest.

    python3 bench/lib/perf_owners.py PERF.data [TOP]

Runs `perf report` (self time, no children) and prints two markdown tables: owners and the
top symbols.
"""
import re
import subprocess
import sys
from collections import defaultdict

data = sys.argv[1]
top = int(sys.argv[2]) if len(sys.argv) > 2 else 15
out = subprocess.run(
    ["perf", "report", "-i", data, "--no-children", "--sort", "dso,sym", "--stdio", "-g", "none"],
    capture_output=True, text=True, check=True).stdout
line_re = re.compile(r"^\s*([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)$")
owners = defaultdict(float)
symbols = []
for line in out.splitlines():
    m = line_re.match(line)
    if not m:
        continue
    pct, dso, kind, sym = float(m.group(1)), m.group(2), m.group(3), m.group(4).strip()
    if kind == "k" or dso.startswith("[kernel"):
        owner = "kernel"
    elif dso.startswith("libc") or dso.startswith("ld-linux"):
        owner = "libc"
    elif sym.startswith("0x") or dso in ("[unknown]",):
        owner = "unknown"
    else:
        s = sym.lstrip("<&*").replace("dyn ", "").replace("mut ", "")
        if re.match(r"(T|F|S|B|impl|\(|\[)", s) and " as " in s:
            s = s.split(" as ", 1)[1].lstrip("<&*")  # a generic type: its trait's crate
        ident = re.match(r"[A-Za-z_][A-Za-z0-9_]*", s)
        owner = ident.group(0) if ident else dso
        if owner in ("core", "alloc", "std"):
            owner = "std (core/alloc)"
    owners[owner] += pct
    symbols.append((pct, owner, sym))

print("| owner | self time |\n|---|---|")
for owner, pct in sorted(owners.items(), key=lambda kv: -kv[1])[:top]:
    print(f"| {owner} | {pct:.1f}% |")
print()
print("| symbol | owner | self time |\n|---|---|---|")
for pct, owner, sym in sorted(symbols, reverse=True)[:top]:
    short = sym if len(sym) < 110 else sym[:107] + "..."
    print(f"| `{short}` | {owner} | {pct:.1f}% |")
