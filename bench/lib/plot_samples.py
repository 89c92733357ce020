#!/usr/bin/env python3
"""Plots the soak's samples (RSS, open descriptors, tokio tasks over time) as a small SVG,
with the standard library only.

    python3 bench/lib/plot_samples.py samples.csv out.svg "title"
"""
import csv
import sys

rows = [r for r in csv.DictReader(open(sys.argv[1]))]
title = sys.argv[3] if len(sys.argv) > 3 else "soak"
series = [("rss_mib", "RSS (MiB)", "#1f77b4"), ("open_fds", "open file descriptors", "#d62728"),
          ("tokio_tasks", "tokio tasks alive", "#2ca02c")]
W, PH, L, R, T = 760, 170, 70, 20, 40
H = T + len(series) * (PH + 30) + 20
ts = [float(r["t_s"]) for r in rows]
tmax = max(ts) if ts else 1.0
out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
       'font-family="sans-serif" font-size="11">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{W / 2}" y="22" text-anchor="middle" font-size="14">{title}</text>']


def nice_max(v):
    if v <= 0:
        return 1.0
    step = 10 ** (len(str(int(v))) - 1)
    return (int(v / step) + 1) * step


for i, (key, label, color) in enumerate(series):
    top = T + i * (PH + 30)
    pts = [(float(r["t_s"]), float(r[key])) for r in rows if r.get(key)]
    vmax = nice_max(max((v for _, v in pts), default=1.0))
    out.append(f'<text x="{L}" y="{top - 6}" font-size="12">{label}</text>')
    out.append(f'<rect x="{L}" y="{top}" width="{W - L - R}" height="{PH}" fill="none" stroke="#999"/>')
    for k in range(5):
        v = vmax * k / 4
        y = top + PH - PH * k / 4
        out.append(f'<line x1="{L}" x2="{W - R}" y1="{y:.1f}" y2="{y:.1f}" stroke="#eee"/>')
        out.append(f'<text x="{L - 6}" y="{y + 4:.1f}" text-anchor="end">{v:g}</text>')
    for k in range(0, int(tmax) + 1, 60 if tmax > 300 else 30):
        x = L + (W - L - R) * k / tmax
        out.append(f'<text x="{x:.1f}" y="{top + PH + 14}" text-anchor="middle">{k // 60}:{k % 60:02d}</text>')
    if pts:
        path = " ".join(f"{L + (W - L - R) * t / tmax:.1f},{top + PH - PH * v / vmax:.1f}" for t, v in pts)
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="1.8"/>')
out.append(f'<text x="{W / 2}" y="{H - 4}" text-anchor="middle">time since the server started (min:s)</text>')
out.append("</svg>")
open(sys.argv[2], "w").write("\n".join(out) + "\n")
