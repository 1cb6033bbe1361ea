"""Writes N f32 checkpoints of T tensors of E elements each (default 4 x 32 x 4Mi: 512 MiB per file),
standard normal values, seeded. Usage: make_inputs.py DIR [N] [T] [E]"""
import os
import sys

import torch
from safetensors.torch import save_file

out = sys.argv[1]
n, t, e = (int(x) for x in (sys.argv[2:] + ["4", "32", str(4 << 20)][len(sys.argv[2:]):]))
os.makedirs(out, exist_ok=True)
gen = torch.Generator().manual_seed(0)
for i in range(n):
    path = os.path.join(out, f"m{i}.safetensors")
    tensors = {f"layers.{j}.weight": torch.randn(e // 2048, 2048, generator=gen) for j in range(t)}
    save_file(tensors, path, metadata={"format": "pt"})
    print(path, os.path.getsize(path) >> 20, "MiB")
