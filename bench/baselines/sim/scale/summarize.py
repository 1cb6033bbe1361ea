#!/usr/bin/env python3
"""Prints the scale rows of BENCHMARKS.md from the reports run.sh wrote: summarize.py OUT_DIR NAME..."""
import json
import sys
from pathlib import Path

MIB = 1 << 20
out = Path(sys.argv[1])
print("| run | strategy | clients | s to 85% | MiB to 85% | best (s) | final | last-10 mean | peak MiB/s (up) | MiB total | exchanges | wall s |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|")
def rows(name, r):
    yield name, r["curve"]
    if r.get("replicas"):  # NoLoCo: the curve is the workers' mean; their averaged model beside it
        yield f"{name}, averaged model", [[p[0], p[4], c[2]] for p, c in zip(r["replicas"], r["curve"])]


for name, curve in (row for n in sys.argv[2:] for row in rows(n, json.loads((out / f"{n}.json").read_text()))):
    r = json.loads((out / f"{name.split(',')[0]}.json").read_text())
    hit = next((p for p in curve if p[1] >= 0.85), None)
    best = max(curve, key=lambda p: p[1])
    last = [p[1] for p in curve[-10:]]
    print(f"| {name} | {r['strategy']} | {r['clients']} | {hit[0]:.0f} | {hit[2] / MIB:.1f} |" if hit else
          f"| {name} | {r['strategy']} | {r['clients']} | never | – |", end="")
    print(f" {best[1]:.4f} ({best[0]:.0f}) | {curve[-1][1]:.4f} | {sum(last) / len(last):.4f} |"
          f" {r['peak_bytes_per_second'] / MIB:.1f} ({r['peak_up_bytes_per_second'] / MIB:.1f}) |"
          f" {(r['bytes_up'] + r['bytes_down']) / MIB:.1f} | {r['updates']} | {r['wall_seconds']:.0f} |")
