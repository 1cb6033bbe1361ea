"""Tables for the simulation section of BENCHMARKS.md from the reports run_examples.sh writes (standard library only)."""
import json
import pathlib
import re
import statistics
import sys


def load(path):
    with open(path) as f:
        return json.load(f)


def tail_mean(report, n=10):
    """Mean accuracy of the last n evaluations: the final point alone moves by a point between evaluations."""
    return statistics.mean(p[1] for p in report["curve"][-n:])


def seconds(v):
    return "never" if v is None else f"{v:.0f}"


def main(out):
    out = pathlib.Path(out)
    seeds = sorted(int(p.stem.split("-")[1]) for p in out.glob("sync-*.json"))
    rows, ratios, diffs, tail_diffs = [], [], [], []
    sync_t, async_t, sync_f, async_f = [], [], [], []
    for s in seeds:
        sy, asy = load(out / f"sync-{s}.json"), load(out / f"async-{s}.json")
        ts, ta = sy["time_to_target"]["virtual_seconds"], asy["time_to_target"]["virtual_seconds"]
        ratio = ta / ts if ts and ta is not None else None
        diff = 100 * (asy["final_accuracy"] - sy["final_accuracy"])
        tdiff = 100 * (tail_mean(asy) - tail_mean(sy))
        rows.append(f"| {s} | {seconds(ts)} | {seconds(ta)} | {'-' if ratio is None else f'{ratio:.2f}x'} "
                    f"| {sy['final_accuracy']:.4f} | {asy['final_accuracy']:.4f} | {diff:+.2f} | {tdiff:+.2f} "
                    f"| {sy['updates']} / {asy['updates']} | {sy['wall_seconds']:.0f} / {asy['wall_seconds']:.0f} |")
        if ts is not None:
            sync_t.append(ts)
        if ta is not None:
            async_t.append(ta)
        if ratio is not None:
            ratios.append(ratio)
        sync_f.append(sy["final_accuracy"])
        async_f.append(asy["final_accuracy"])
        diffs.append(diff)
        tail_diffs.append(tdiff)
    print("| seed | sync: s to 85% | async: s to 85% | async / sync | sync final | async final "
          "| final diff (points) | last-10 diff (points) | updates sync / async | wall s sync / async |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    if seeds:
        mean_ratio = statistics.mean(async_t) / statistics.mean(sync_t) if async_t and sync_t else float("nan")
        print(f"| mean | {statistics.mean(sync_t):.0f} | {statistics.mean(async_t):.0f} | {mean_ratio:.2f}x "
              f"| {statistics.mean(sync_f):.4f} | {statistics.mean(async_f):.4f} | {statistics.mean(diffs):+.2f} "
              f"| {statistics.mean(tail_diffs):+.2f} | | |")
        print(f"\nmean of the per-seed ratios: {statistics.mean(ratios):.2f}x")
    thousand = out / "thousand.json"
    if thousand.exists():
        t = load(thousand)
        gc = (out / "thousand-gc.log").read_text() if (out / "thousand-gc.log").exists() else ""
        before = [int(m) for m in re.findall(r"(\d+)M->\d+M\(\d+M\)", gc)]
        committed = [int(m) for m in re.findall(r"\d+M->\d+M\((\d+)M\)", gc)]
        rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)",
                        (out / "thousand-time.txt").read_text()) if (out / "thousand-time.txt").exists() else None
        print(f"\n1,000 clients: {t['updates']} updates, {t['virtual_seconds']:.1f} virtual s in "
              f"{t['wall_seconds']:.0f} s wall, final accuracy {t['final_accuracy']:.4f}, "
              f"staleness mean {t['staleness']['mean']:.1f} / p99 {t['staleness']['p99']} / max {t['staleness']['max']}")
        if before:
            print(f"heap in use before a collection, max over {len(before)} GCs: {max(before)} MiB "
                  f"(committed at most {max(committed)} MiB, limit -Xmx4g)")
        if rss:
            print(f"process peak RSS: {int(rss.group(1)) // 1024} MiB (heap + native: PyTorch, tensors off-heap)")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench/results/sim")
