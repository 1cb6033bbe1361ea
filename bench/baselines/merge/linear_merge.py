"""Linear merge the way mergekit runs it: every input opened with safetensors' safe_open, each output
tensor computed from the inputs' tensors (stack, multiply by the weights, sum, divide by the sum of the
weights), output tensors collected and written with save_file (mergekit's TensorWriter writes a shard
when it reaches out_shard_size, 5B by default, so a model of this size is one save_file call).

Usage: linear_merge.py --out DIR --weights W1 W2 ... -- MODEL1.safetensors MODEL2.safetensors ...
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
    p.add_argument("--shard-size", type=float, default=5e9)
    p.add_argument("models", nargs="+")
    a = p.parse_args()
    if len(a.weights) != len(a.models):
        p.error("one weight per model")
    start = time.perf_counter()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    handles = [safe_open(m, framework="pt", device="cpu") for m in a.models]
    names = list(handles[0].keys())
    os.makedirs(a.out, exist_ok=True)
    shard, shard_bytes, shards = {}, 0, []
    for name in names:
        tensors = [h.get_tensor(name) for h in handles]
        stacked = torch.stack(tensors, dim=0)
        w = torch.tensor(a.weights, dtype=stacked.dtype)
        while w.dim() < stacked.dim():
            w = w.unsqueeze(-1)
        merged = ((w * stacked).sum(dim=0) / w.sum(dim=0)).to(tensors[0].dtype).contiguous()
        del tensors, stacked
        size = merged.numel() * merged.element_size()
        if shard and shard_bytes + size > a.shard_size:
            shards.append(shard)
            shard, shard_bytes = {}, 0
        shard[name] = merged
        shard_bytes += size
    shards.append(shard)
    for i, s in enumerate(shards):
        fname = "model.safetensors" if len(shards) == 1 else f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file(s, os.path.join(a.out, fname), metadata={"format": "pt"})
    print(f"merged {len(names)} tensors into {a.out} in {time.perf_counter() - start:.3f} s (in-process)")


if __name__ == "__main__":
    main()
