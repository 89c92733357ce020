#!/usr/bin/env python3
"""The soak's end check: every account's stored usage against what its clients counted.

    python3 bench/lib/soak_check.py client-accounts.jsonl stored-usage.txt [samples.csv]

client-accounts.jsonl: the soak client's rows (bytes_up, bytes_down, requests, and the tunnel
and forward parts). stored-usage.txt: `email bytes_up bytes_down requests errors` from the
store. Prints the totals, every account that differs, and (with samples.csv) the server's RSS,
descriptors and tasks after warm-up. Exits 1 if any account differs or errors were stored.
"""
import csv
import json
import sys

rows = {r["email"]: r for r in (json.loads(l) for l in open(sys.argv[1]) if l.strip())}
stored = {}
for line in open(sys.argv[2]):
    f = line.split()
    if len(f) == 5:
        stored[f[0]] = dict(zip(("bytes_up", "bytes_down", "requests", "errors"), map(int, f[1:])))

bad = []
tot = {k: 0 for k in ("bytes_up", "bytes_down", "requests", "tunnel_up", "tunnel_down", "forward_up",
                      "forward_down", "tunnels", "forward_requests")}
stored_tot = {"bytes_up": 0, "bytes_down": 0, "requests": 0, "errors": 0}
for email, r in sorted(rows.items()):
    s = stored.get(email, {"bytes_up": 0, "bytes_down": 0, "requests": 0, "errors": 0})
    for k in tot:
        tot[k] += r[k]
    for k in stored_tot:
        stored_tot[k] += s[k]
    diff = {k: s[k] - r[k] for k in ("bytes_up", "bytes_down", "requests") if s[k] != r[k]}
    if diff or s["errors"]:
        bad.append((email, diff, s["errors"]))

print(f"accounts: {len(rows)} counted by the clients, {len(stored)} in the store")
print(f"client counted: up {tot['bytes_up']:,} B (tunnels {tot['tunnel_up']:,} + forward heads "
      f"{tot['forward_up']:,}), down {tot['bytes_down']:,} B (tunnels {tot['tunnel_down']:,} + "
      f"forward {tot['forward_down']:,}), requests {tot['requests']:,} "
      f"({tot['tunnels']:,} tunnels + {tot['forward_requests']:,} forward GETs)")
print(f"stored:         up {stored_tot['bytes_up']:,} B, down {stored_tot['bytes_down']:,} B, "
      f"requests {stored_tot['requests']:,}, errors {stored_tot['errors']:,}")
if bad:
    print(f"MISMATCH in {len(bad)} accounts (stored minus counted):")
    for email, diff, errors in bad[:50]:
        print(f"  {email}: {diff} stored errors {errors}")
else:
    print("every account's stored bytes up, bytes down and requests equal the clients' counts, to the byte")

if len(sys.argv) > 3:
    samples = list(csv.DictReader(open(sys.argv[3])))
    # After warm-up: from a minute in (the ramp) to the last sample with clients connected.
    steady = [s for s in samples if s["tokio_tasks"] and int(s["t_s"]) >= 90]
    if steady:
        for key in ("rss_mib", "open_fds", "tokio_tasks", "threads"):
            vals = [float(s[key]) for s in steady if s[key]]
            if vals:
                print(f"{key}: after warm-up min {min(vals):g}, max {max(vals):g}, "
                      f"first {vals[0]:g}, last {vals[-1]:g} ({len(vals)} samples)")
sys.exit(1 if bad else 0)
