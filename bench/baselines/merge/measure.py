"""Runs a command under /usr/bin/time -v and samples its anonymous memory from /proc every 10 ms.
Prints one JSON line: wall seconds, peak RSS (VmHWM from time -v), peak RssAnon sampled, exit code.

Usage: measure.py -- COMMAND ARGS...
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import time


def rss_anon_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except FileNotFoundError:
        return []


def main():
    cmd = sys.argv[sys.argv.index("--") + 1:]
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        proc = subprocess.Popen(["/usr/bin/time", "-v", "-o", tf.name] + cmd, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        peak_anon = 0
        while proc.poll() is None:
            for child in children(proc.pid):
                kb = rss_anon_kb(child)
                if kb:
                    peak_anon = max(peak_anon, kb)
            time.sleep(0.01)
        out = proc.stdout.read()
        report = open(tf.name).read()
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", report)
    h, m, s = wall.groups()
    seconds = int(h or 0) * 3600 + int(m) * 60 + float(s)
    hwm = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", report).group(1))
    print(json.dumps({"wall_s": seconds, "max_rss_mib": hwm / 1024, "peak_rss_anon_mib": peak_anon / 1024,
                      "exit": proc.returncode, "output": out.strip().splitlines()[-1:] }))
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
