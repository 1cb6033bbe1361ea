"""The evaluations of a simulate run read back from its progress log (with_progress.sh), for a run stopped
before its budget, written as a partial report: strategy, clients, seed, the virtual second it stopped at,
and curve points [virtual s, accuracy] at every evaluation whose accuracy differs from the one before
(an evaluation shows as the progress line's accuracy changing; times are rounded to evaluation times).
Usage: python3 progress_curve.py LOG EVAL_EVERY STRATEGY CLIENTS SEED TARGET > PARTIAL.json"""
import json
import re
import sys


def main(log, every, strategy, clients, seed, target):
    text = open(log, encoding="utf-8", errors="replace").read().replace("\r", "\n")
    every = float(every)
    curve, last, stopped, updates = [], None, 0, 0
    for m in re.finditer(r" (\d+)/(\d+) \S+ v(\d+) acc ([0-9.]+) upd (\d+)", text):
        t, acc, updates = int(m.group(1)), float(m.group(4)), int(m.group(5))
        stopped = max(stopped, t)
        if acc != last:
            curve.append([every * round(t / every), acc])
            last = acc
    reached = next((p[0] for p in curve if p[1] >= float(target)), None)
    json.dump({"strategy": strategy, "clients": int(clients), "seed": int(seed), "partial": True,
               "stopped_at_virtual_seconds": stopped, "updates_at_stop": updates,
               "time_to_target": {"target": float(target), "virtual_seconds": reached}, "curve": curve},
              sys.stdout)
    print()


if __name__ == "__main__":
    main(*sys.argv[1:])
