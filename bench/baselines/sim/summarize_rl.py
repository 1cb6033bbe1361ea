"""Prints the actor-learner table of BENCHMARKS.md from run_rl.sh's reports: summarize_rl.py OUT_DIR SEED..."""
import json
import sys
from pathlib import Path

out = Path(sys.argv[1])
seeds = sys.argv[2:] or ["1", "2", "3"]


def load(mode, seed):
    return json.loads((out / f"{mode}-{seed}.json").read_text())


def reached(r):
    t = r["time_to_target"]
    return t["virtual_seconds"], t["env_steps"]


print("| seed | async: steps to 475 | sync: steps to 475 | async: virtual s to 475 | sync: virtual s to 475 |"
      " async / sync (time) | staleness async mean / p99 / max | refused + dropped (async) | wall s async / sync |")
print("|---|---|---|---|---|---|---|---|---|")
ratios, a_steps, s_steps, a_secs, s_secs = [], [], [], [], []
for seed in seeds:
    a, s = load("async", seed), load("sync", seed)
    (at, asteps), (st, ssteps) = reached(a), reached(s)
    ratio = at / st if at is not None and st is not None else None
    if ratio is not None:
        ratios.append(ratio)
    for xs, v in ((a_steps, asteps), (s_steps, ssteps), (a_secs, at), (s_secs, st)):
        if v is not None:
            xs.append(v)
    fmt = lambda v, f="{:.0f}": "never" if v is None else f.format(v)
    lost = sum(a["refused"].values()) + a["dropped"]
    st_a = a["staleness"]
    print(f"| {seed} | {fmt(asteps)} | {fmt(ssteps)} | {fmt(at)} | {fmt(st)} | {fmt(ratio, '{:.2f}x')} |"
          f" {st_a['mean']:.2f} / {st_a['p99']} / {st_a['max']} | {lost} | {a['wall_seconds']:.0f} / {s['wall_seconds']:.0f} |")
mean = lambda xs, n: sum(xs) / len(xs) if len(xs) == n and xs else None
n = len(seeds)
m = [mean(a_steps, n), mean(s_steps, n), mean(a_secs, n), mean(s_secs, n)]
ratio_of_means = m[2] / m[3] if m[2] is not None and m[3] is not None else None
cells = ["all seeds needed" if v is None else f"{v:.0f}" for v in m]
print(f"| **mean** | **{cells[0]}** | **{cells[1]}** | **{cells[2]}** | **{cells[3]}** |"
      f" **{'n/a' if ratio_of_means is None else f'{ratio_of_means:.2f}x'}** | | | |")
