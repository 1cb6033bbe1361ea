"""Checks two merged checkpoints hold the same tensors with the same values within rtol and atol
(|a - b| <= atol + rtol * |b|; the inputs are standard normal, so atol is relative to their scale).
Usage: compare.py A.safetensors B.safetensors [RTOL] [ATOL]"""
import sys

import torch
from safetensors import safe_open

a_path, b_path = sys.argv[1], sys.argv[2]
rtol = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-6
atol = float(sys.argv[4]) if len(sys.argv) > 4 else 1e-6
worst, differing, total = 0.0, 0, 0
with safe_open(a_path, "pt") as a, safe_open(b_path, "pt") as b:
    assert sorted(a.keys()) == sorted(b.keys()), "different tensor names"
    for k in a.keys():
        x, y = a.get_tensor(k), b.get_tensor(k)
        assert x.dtype == y.dtype and x.shape == y.shape, k
        d = (x.double() - y.double()).abs()
        worst = max(worst, d.max().item())
        differing += int((d > 0).sum().item())
        total += d.numel()
        if not torch.allclose(x, y, rtol=rtol, atol=atol):
            sys.exit(f"{k}: values differ beyond rtol {rtol}, atol {atol} (max abs diff {d.max().item():.3g})")
print(f"outputs agree within rtol {rtol}, atol {atol}: max abs diff {worst:.3g}, "
      f"{differing} of {total} values not bit-identical")
