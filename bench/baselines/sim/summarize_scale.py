"""Table for the scale section of BENCHMARKS.md from the reports run_scale.sh writes (standard library only).
Usage: python3 summarize_scale.py OUT_DIR"""
import json
import pathlib
import statistics
import sys


def tail(report, n=20):
    return statistics.mean(p[1] for p in report["curve"][-n:])


def first_at(report, acc):
    return next((p[0] for p in report["curve"] if p[1] >= acc), None)


def fmt(v):
    return "never" if v is None else f"{v:.0f}"


def main(out):
    out = pathlib.Path(out)
    print("| clients | α | seed | sync s to 85% | async s to 85% | async / sync | sync best (s) | async s to sync best |"
          " sync final / last-20 | async final / last-20 | final diff (pt) | async staleness mean / p99 / max | updates sync / async |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for s_path in sorted(out.glob("sync-*.json")):
        a_path = out / s_path.name.replace("sync-", "async-", 1)
        if not a_path.exists():
            continue
        sy, asy = json.load(open(s_path)), json.load(open(a_path))
        _, clients, alpha, seed = s_path.stem.split("-")
        ts, ta = sy["time_to_target"]["virtual_seconds"], asy["time_to_target"]["virtual_seconds"]
        ratio = f"{ta / ts:.2f}x" if ts and ta else "–"
        best_t, best = max(((p[0], p[1]) for p in sy["curve"]), key=lambda p: (p[1], -p[0]))
        st = asy["staleness"]
        print(f"| {clients} | {alpha} | {seed[1:]} | {fmt(ts)} | {fmt(ta)} | {ratio} | {best:.4f} ({best_t:.0f}) | "
              f"{fmt(first_at(asy, best))} | {sy['final_accuracy']:.4f} / {tail(sy):.4f} | "
              f"{asy['final_accuracy']:.4f} / {tail(asy):.4f} | {100 * (asy['final_accuracy'] - sy['final_accuracy']):+.2f} | "
              f"{st['mean']:.1f} / {st['p99']} / {st['max']} | {sy['updates']} / {asy['updates']} |")


if __name__ == "__main__":
    main(sys.argv[1])
