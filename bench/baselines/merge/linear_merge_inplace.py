"""Linear merge as a plain PyTorch script would stream it: every input opened with safetensors' safe_open,
each output tensor accumulated in place (acc = w1/W * x1, then acc.add_(xi, alpha=wi/W)), the merged tensors
written with save_file, and the output file and its folder fsynced, so that it is as durable as tributary's
output when it returns. Prints where the time went (read + compute, save_file, fsync).

Usage: linear_merge_inplace.py --out DIR --weights W1 W2 ... -- MODEL1.safetensors MODEL2.safetensors ...
"""
import argparse
import os
import time

import torch
from safetensors import safe_open
from safetensors.torch import save_file


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--weights", type=float, nargs="+", required=True)
    p.add_argument("models", nargs="+")
    a = p.parse_args()
    if len(a.weights) != len(a.models):
        p.error("one weight per model")
    start = time.perf_counter()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    total = sum(a.weights)
    handles = [safe_open(m, framework="pt", device="cpu") for m in a.models]
    names = list(handles[0].keys())
    os.makedirs(a.out, exist_ok=True)
    merged = {}
    with torch.no_grad():
        for name in names:
            acc = handles[0].get_tensor(name).to(torch.float32) * (a.weights[0] / total)
            for h, w in zip(handles[1:], a.weights[1:]):
                acc.add_(h.get_tensor(name), alpha=w / total)
            merged[name] = acc
    computed = time.perf_counter()
    path = os.path.join(a.out, "model.safetensors")
    save_file(merged, path, metadata={"format": "pt"})
    saved = time.perf_counter()
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    fd = os.open(a.out, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    end = time.perf_counter()
    print(f"merged {len(names)} tensors into {a.out} in {end - start:.3f} s (in-process): read + compute "
          f"{computed - start:.3f} s, save_file {saved - computed:.3f} s, fsync {end - saved:.3f} s")


if __name__ == "__main__":
    main()
