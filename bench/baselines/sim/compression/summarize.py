"""Prints the tables of BENCHMARKS.md's "Compression on real training" from the reports run.sh wrote.
Usage: python3 bench/baselines/sim/compression/summarize.py OUT_DIR [SEED]"""
import json
import os
import sys

out = sys.argv[1]
seed = sys.argv[2] if len(sys.argv) > 2 else "0"


def load(run):
    p = os.path.join(out, f"{run}-{seed}.json")
    return json.load(open(p)) if os.path.exists(p) else None


def at_target(r):
    """Bytes up and down on the wire at the first evaluation at or above the target."""
    t = r["time_to_target"]["virtual_seconds"]
    if t is None:
        return None
    for (s, acc), (s2, up, down) in zip(r["curve"], r["compression"]["traffic"]):
        if s == t:
            return up, down
    return None


def mb(b):
    return f"{b / 1e6:,.1f}"


def last10(r):
    pts = [a for _, a in r["curve"][-10:]]
    return sum(pts) / len(pts)


print("| run | codec | bytes up (MB) | up vs f32 | s to 85% | final | last-10 mean | updates | wall s |")
print("|---|---|---|---|---|---|---|---|---|")
base = {}
for run in ["async-f32", "async-int4", "async-int4-lossless", "async-int4-int8pull", "async-topk", "diloco-f32", "diloco-int4", "streaming-f32", "streaming-int4"]:
    r = load(run)
    if r is None:
        continue
    c = r["compression"]
    fam = run.split("-")[0]
    if run.endswith("f32"):
        base[fam] = r
    b = base.get(fam)
    ratio = f"{b['bytes_up'] / r['bytes_up']:.1f}x fewer" if b and b is not r else "1x"
    t = r["time_to_target"]["virtual_seconds"]
    print(f"| {run} | {c['codec'] or 'f32'}{' + ' + c['error_feedback'] if c['error_feedback'] != 'none' else ''} "
          f"| {mb(r['bytes_up'])} | {ratio} | {'never' if t is None else f'{t:.0f}'} | {r['final_accuracy']:.4f} "
          f"| {last10(r):.4f} | {r['updates']} | {r['wall_seconds']:.0f} |")

print()
print("| run | pulls | MB down as full models | MB down as version deltas | full / delta | per pull full / delta (KB) |")
print("|---|---|---|---|---|---|")
for run in ["async-f32", "async-int4", "async-int4-lossless", "async-int4-int8pull", "async-topk", "diloco-f32", "diloco-int4", "streaming-f32", "streaming-int4"]:
    r = load(run)
    if r is None:
        continue
    c = r["compression"]
    model = None
    # pulls = full bytes / model bytes; the model image size is the f32 push size in an f32 run
    pulls = c["full_bytes_down"] / (base["async"]["compression"]["decoded_bytes_up"] / base["async"]["updates"]) if "async" in base else float("nan")
    print(f"| {run} | {pulls:,.0f} | {mb(c['full_bytes_down'])} | {mb(r['bytes_down'])} | {c['compression_down']:.1f}x "
          f"| {c['full_bytes_down'] / pulls / 1e3:,.0f} / {r['bytes_down'] / pulls / 1e3:,.0f} |")

print()
print("| strategy | codec | s to 85% | MB up to 85% | MB down to 85% (delta pulls) | MB total to 85% | final |")
print("|---|---|---|---|---|---|---|")
for run in ["async-f32", "async-int4", "diloco-f32", "diloco-int4", "streaming-f32", "streaming-int4"]:
    r = load(run)
    if r is None:
        continue
    c = r["compression"]
    t = r["time_to_target"]["virtual_seconds"]
    a = at_target(r)
    name = {"async": "FedBuff", "diloco": "DiLoCo", "streaming": "Streaming DiLoCo"}[run.split("-")[0]]
    if a is None:
        print(f"| {name} | {c['codec'] or 'f32'} | never | | | | {r['final_accuracy']:.4f} |")
    else:
        print(f"| {name} | {c['codec'] or 'f32'} | {t:.0f} | {mb(a[0])} | {mb(a[1])} | {mb(a[0] + a[1])} | {r['final_accuracy']:.4f} |")
