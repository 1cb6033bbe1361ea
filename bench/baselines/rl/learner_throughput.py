#!/usr/bin/env python3
"""Learner throughput: experience ingest (items/s, MB/s) and training steps/s of a real `tributary learn`
beside the env steps/s its actors deliver, with 1, 4 and 8 `tributary act` processes on this machine.

Each configuration: start a learner (PPO on CartPole-v1, the durable replay table in its --state) and N
actors, wait until experience flows, then measure a window: deltas of the learner's /status and /metrics,
the CPU time of the learner and of the actors (from /proc), and the load average. Prints a Markdown table.
Usage: bench/baselines/rl/run_learner_throughput.sh [--actors 1,4,8] [--seconds 40] [--warmup 15]
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", ".."))
TOKEN = "throughput-bench-token-0123456789"
TICK = os.sysconf("SC_CLK_TCK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def java_cmd(java, args):
    cp = os.path.join(ROOT, "cli/target/classes") + ":" + os.path.join(ROOT, "cli/target/lib/*")
    return ["nice", "-n", "10", java, "--add-modules=jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
            "--sun-misc-unsafe-memory-access=allow", "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=1",
            "-Xmx512m", "-cp", cp, "dev.tributary.cli.Main"] + args


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
        return r.read().decode()


def metrics(port):
    out = {}
    for line in get(port, "/metrics").splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        name = name.split("{")[0]
        try:
            out[name] = out.get(name, 0.0) + float(value)
        except ValueError:
            pass
    return out


def cpu_seconds(pid):
    """utime + stime of a process and its children that were waited for, in seconds."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK
    except (OSError, IndexError):
        return 0.0


def java_pid(p):
    """The java process under `nice` (nice execs, so it is the same pid)."""
    return p.pid


def look(port, procs):
    st = json.loads(get(port, "/status"))
    return {"t": time.monotonic(), "status": st, "metrics": metrics(port),
            "cpu": [cpu_seconds(java_pid(p)) for p in procs], "load": os.getloadavg()[0]}


def run(java, actors, seconds, warmup, work):
    state = os.path.join(work, f"state-{actors}")
    shutil.rmtree(state, ignore_errors=True)
    tokens = os.path.join(work, "tokens")
    with open(tokens, "w") as f:
        f.write(TOKEN + "\n")
    port, http = free_port(), free_port()
    env = dict(os.environ, OMP_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
    logs = []
    procs = []

    def spawn(name, args):
        log = open(os.path.join(work, f"{name}-{actors}.log"), "w")
        logs.append(log)
        procs.append(subprocess.Popen(java_cmd(java, args), stdout=log, stderr=subprocess.STDOUT, env=env))

    spawn("learn", ["learn", "--env", "CartPole-v1", "--algo", "ppo", "--state", state, "--host", "127.0.0.1",
                    "--port", str(port), "--http-port", str(http), "--tokens", tokens])
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                get(http, "/status")
                break
            except OSError:
                if time.monotonic() > deadline or procs[0].poll() is not None:
                    raise SystemExit(f"error: the learner did not come up (log {logs[0].name})")
                time.sleep(0.3)
        for i in range(actors):
            spawn(f"act{i}", ["act", "--learner", f"127.0.0.1:{port}", "--token", TOKEN, "--env", "CartPole-v1",
                              "--seed", str(i + 1), "--name", f"actor-{i}"])
        deadline = time.monotonic() + 180
        while json.loads(get(http, "/status"))["train_steps"] < 1:
            if time.monotonic() > deadline:
                raise SystemExit("error: no training step within 180 s")
            time.sleep(0.5)
        print(f"  {actors} actors: experience flows; warming up {warmup} s, then measuring {seconds} s", file=sys.stderr)
        time.sleep(warmup)
        a = look(http, procs)
        loads = [a["load"]]
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(min(5, max(0.1, end - time.monotonic())))
            loads.append(os.getloadavg()[0])
            print(f"  … {json.loads(get(http, '/status'))['train_steps']} training steps", file=sys.stderr)
        b = look(http, procs)
    finally:
        for p in reversed(procs):
            p.send_signal(signal.SIGTERM)
        for p in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
        for log in logs:
            log.close()
    dt = b["t"] - a["t"]
    sa, sb = a["status"], b["status"]
    ma, mb = a["metrics"], b["metrics"]
    d = lambda k: mb.get(k, 0.0) - ma.get(k, 0.0)
    train_time = d("tributary_training_step_seconds_sum")
    return {
        "actors": actors,
        "items_s": (sb["accepted"] - sa["accepted"]) / dt,
        "mb_s": d("tributary_experience_received_bytes_total") / dt / 1e6,
        "env_s": (sb["env_steps"] - sa["env_steps"]) / dt,
        "train_s": (sb["train_steps"] - sa["train_steps"]) / dt,
        "step_ms": 1000 * train_time / max(1, sb["train_steps"] - sa["train_steps"]),
        "train_busy": train_time / dt,
        "busy_s": (sb["busy"] - sa["busy"]) / dt,
        "learner_cores": (b["cpu"][0] - a["cpu"][0]) / dt,
        "actor_cores": sum(x - y for x, y in zip(b["cpu"][1:], a["cpu"][1:])) / dt,
        "load": (min(loads), max(loads)),
        "buffer": sb["buffer_items"],
        "lag": d("tributary_experience_lag_sum") / max(1.0, d("tributary_experience_lag_count")),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--actors", default="1,4,8")
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument("--warmup", type=float, default=15)
    ap.add_argument("--java", default=os.path.join(os.environ.get("JAVA_HOME", "/usr/lib/jvm/temurin-25-jdk-amd64"),
                                                   "bin", "java"))
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="learner-throughput-")
    rows = []
    try:
        for n in [int(x) for x in args.actors.split(",")]:
            print(f"learner throughput with {n} actors…", file=sys.stderr)
            rows.append(run(args.java, n, args.seconds, args.warmup, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("| actors | items/s | MB/s in | env steps/s (accepted) | training steps/s | ms per training step "
          "| training thread busy | busy answers/s | learner cores | actors' cores | mean lag | load average |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['actors']} | {r['items_s']:.2f} | {r['mb_s']:.3f} | {r['env_s']:.0f} | {r['train_s']:.3f} "
              f"| {r['step_ms']:.0f} | {100 * r['train_busy']:.0f}% | {r['busy_s']:.1f} | {r['learner_cores']:.2f} "
              f"| {r['actor_cores']:.2f} | {r['lag']:.2f} | {r['load'][0]:.1f}–{r['load'][1]:.1f} |")


if __name__ == "__main__":
    main()
