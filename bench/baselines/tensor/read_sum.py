"""PyTorch baseline for the read-and-sum comparison: load a safetensors checkpoint the way a user does
(safetensors.torch.load_file) and sum every tensor, printing the total.

    python read_sum.py model.safetensors          # t.sum(): PyTorch's default accumulation (f32 for f32)
    python read_sum.py model.safetensors --f64    # t.sum(dtype=torch.float64): f64 accumulation, like ReadSum
"""
import sys
import time

t0 = time.perf_counter()
import torch  # noqa: E402  (the import is part of what a user's process pays)
from safetensors.torch import load_file  # noqa: E402

f64 = "--f64" in sys.argv[2:]
state = load_file(sys.argv[1])
total = 0.0
elements = 0
for t in state.values():
    total += (t.sum(dtype=torch.float64) if f64 else t.sum()).item()
    elements += t.numel()
print(f"sum={total!r} tensors={len(state)} elements={elements} seconds={time.perf_counter() - t0:.3f}")
