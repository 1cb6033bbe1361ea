"""Tables for the scale section of BENCHMARKS.md from the reports run_scale.sh writes (standard library only).
An async run stopped early counts through its partial report (progress_curve.py, NAME.partial.json
beside the sync report): its cells are marked * and what the progress log lacks shows as –.
Usage: python3 summarize_scale.py OUT_DIR"""
import json
import pathlib
import re
import statistics
import sys


def tail(report, n=20):
    return statistics.mean(p[1] for p in report["curve"][-n:])


def first_at(report, acc):
    return next((p[0] for p in report["curve"] if p[1] >= acc), None)


def at_time(report, t):
    """Accuracy of the last evaluation at or before virtual second t."""
    return max((p for p in report["curve"] if p[0] <= t), key=lambda p: p[0])[1]


def fmt(v):
    return "never" if v is None else f"{v:.0f}"


def mib(b):
    return f"{b / (1 << 20):,.0f} MiB"


def peak_rss(time_file):
    """Peak RSS in MiB from /usr/bin/time's output (its -f line or -v), None if absent."""
    if not time_file.exists():
        return None
    text = time_file.read_text()
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text) or re.search(r"(\d+) KiB max RSS", text)
    return int(m.group(1)) / 1024 if m else None


def heap(gc_file):
    """(GCs, max heap before a GC, max after, max committed) in MiB from an -Xlog:gc file, None if absent."""
    if not gc_file.exists():
        return None
    sizes = [tuple(int(x) for x in m.groups())
             for m in re.finditer(r"GC\(\d+\) Pause.* (\d+)M->(\d+)M\((\d+)M\)", gc_file.read_text())]
    if not sizes:
        return None
    return len(sizes), max(s[0] for s in sizes), max(s[1] for s in sizes), max(s[2] for s in sizes)


def cells(out):
    for s_path in sorted(out.glob("sync-*.json")):
        a_path = out / s_path.name.replace("sync-", "async-", 1)
        if not a_path.exists():
            a_path = a_path.with_suffix(".partial.json")
        if a_path.exists():
            parts = s_path.name.removesuffix(".json").split("-")
            clients, alpha, seed = parts[1], parts[2], parts[-1][1:]
            conc = next((p[1:] for p in parts[3:-1] if p.startswith("c")), None)
            label = clients if conc is None else f"{clients} (C {conc})"
            yield s_path, a_path, label, alpha, seed


def main(out):
    out = pathlib.Path(out)
    print("| clients | α | seed | sync s to 85% | async s to 85% | async / sync | sync best (s) | async s to sync best |"
          " sync final / last-20 | async final / last-20 | final diff (pt) | async staleness mean / p99 / max | updates sync / async |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    found = list(cells(out))
    for s_path, a_path, label, alpha, seed in found:
        sy, asy = json.load(open(s_path)), json.load(open(a_path))
        ts, ta = sy["time_to_target"]["virtual_seconds"], asy["time_to_target"]["virtual_seconds"]
        ratio = f"{ta / ts:.2f}x" if ts and ta else "–"
        best_t, best = max(((p[0], p[1]) for p in sy["curve"]), key=lambda p: (p[1], -p[0]))
        part = "*" if asy.get("partial") else ""
        a_final = asy["final_accuracy"] if not part else asy["curve"][-1][1]
        a_tail = f"{tail(asy):.4f}" if not part else "–"
        st = asy.get("staleness")
        st_s = f"{st['mean']:.1f} / {st['p99']} / {st['max']}" if st else "–"
        a_updates = asy["updates"] if not part else f"{asy['updates_at_stop']} at {asy['stopped_at_virtual_seconds']} s"
        print(f"| {label} | {alpha} | {seed} | {fmt(ts)} | {fmt(ta)}{part} | {ratio} | {best:.4f} ({best_t:.0f}) | "
              f"{fmt(first_at(asy, best))}{part} | {sy['final_accuracy']:.4f} / {tail(sy):.4f} | "
              f"{a_final:.4f}{part} ({asy['curve'][-1][0]:.0f} s) / {a_tail} | "
              f"{100 * (a_final - sy['final_accuracy']):+.2f}{part} | {st_s} | {sy['updates']} / {a_updates} |")
    print()
    print("| clients | α | virtual s sync / async | sync at async's end | bytes exchanged sync / async | wall s sync / async |"
          " peak RSS sync / async | heap: GCs, max before / after a GC, max committed (sync; async) |")
    print("|---|---|---|---|---|---|---|---|")
    for s_path, a_path, label, alpha, seed in found:
        sy, asy = json.load(open(s_path)), json.load(open(a_path))
        stems = [p.name.removesuffix(".json").removesuffix(".partial") for p in (s_path, a_path)]
        rss = [peak_rss(out / (n + ".time")) for n in stems]
        heaps = [heap(out / (n + ".gc.log")) for n in stems]
        rss_s = " / ".join("–" if r is None else f"{r:,.0f} MiB" for r in rss)
        heap_s = "; ".join("–" if h is None else f"{h[0]}, {h[1]:,} / {h[2]:,} MiB, {h[3]:,} MiB" for h in heaps)
        part = asy.get("partial")
        a_end = asy["stopped_at_virtual_seconds"] if part else asy["virtual_seconds"]
        a_bytes = "–" if part else mib(asy["bytes_up"] + asy["bytes_down"])
        a_wall = "–" if part else f"{asy['wall_seconds']:,.0f}"
        print(f"| {label} | {alpha} | {sy['virtual_seconds']:.0f} / {a_end:.0f}{'*' if part else ''} | "
              f"{at_time(sy, a_end):.4f} | {mib(sy['bytes_up'] + sy['bytes_down'])} / {a_bytes} | "
              f"{sy['wall_seconds']:,.0f} / {a_wall} | {rss_s} | {heap_s} |")


if __name__ == "__main__":
    main(sys.argv[1])
