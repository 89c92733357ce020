#!/usr/bin/env python3
"""The dashboard load client's step lines (JSON, one per step) as markdown tables.

    python3 bench/lib/dashload_table.py steps.jsonl
"""
import json
import sys

steps = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]


def ms(lat, key):
    v = lat.get(key) if lat else None
    return "-" if v is None else f"{v:.1f}"


print("| users | pages/s | requests/s | page p50 ms | page p99 ms | page max ms | errors | "
      "seconds with a frame | max frame gap ms | load (1 min) | within goal |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for s in steps:
    live = s["live"]
    print(f"| {s['users']} | {s['pages_per_s']} | {s['requests_per_s']} | {ms(s['pages'], 'p50_ms')} | "
          f"{ms(s['pages'], 'p99_ms')} | {ms(s['pages'], 'max_ms')} | {s['errors_total']} | "
          f"{100 * live['seconds_with_frame_share']:.3f}% ({live['sockets_with_a_frame_every_second']}/{live['sockets']} sockets every second) | "
          f"{live['max_gap_ms']} | {s['loadavg_before']}→{s['loadavg_after']} | {'yes' if s['within_goal'] else 'no'} |")
for s in steps:
    print(f"\n{s['users']} users, {s['window_secs']} s window; sign-in of the step's new users: "
          f"{s['signin_secs']} s (p50 {ms(s['signin'], 'p50_ms')} ms, p99 {ms(s['signin'], 'p99_ms')} ms, "
          f"503 retried {s['signin']['busy_503_retried']})")
    print("\n| request | n | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|")
    for path, lat in s["by_path"].items():
        print(f"| `{path}` | {lat['n']} | {ms(lat, 'p50_ms')} | {ms(lat, 'p99_ms')} | {ms(lat, 'max_ms')} |")
    if s["errors"]:
        print("\nerrors: " + ", ".join(f"`{k}` × {v}" for k, v in s["errors"].items()))
