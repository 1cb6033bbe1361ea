"""Writes a synthetic checkpoint for the read-and-sum comparison: f32 tensors shaped like a transformer's
(embedding, attention and MLP weights, norms), about SIZE_GIB GiB in total, with safetensors.torch.save_file.

    python make_checkpoint.py OUT.safetensors [SIZE_GIB=2] [DTYPE=float32]
"""
import sys

import torch
from safetensors.torch import save_file

out = sys.argv[1]
size_gib = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
dtype = getattr(torch, sys.argv[3]) if len(sys.argv) > 3 else torch.float32
element = torch.tensor([], dtype=dtype).element_size()
hidden, mlp = 2048, 5632
g = torch.Generator().manual_seed(0)
tensors = {"embed_tokens.weight": (32000, hidden)}
budget = int(size_gib * 2**30) // element - 32000 * hidden
layer = 0
while budget > 0:
    shapes = {"self_attn.q_proj.weight": (hidden, hidden), "self_attn.k_proj.weight": (hidden, hidden),
              "self_attn.v_proj.weight": (hidden, hidden), "self_attn.o_proj.weight": (hidden, hidden),
              "mlp.gate_proj.weight": (mlp, hidden), "mlp.up_proj.weight": (mlp, hidden),
              "mlp.down_proj.weight": (hidden, mlp), "input_layernorm.weight": (hidden,)}
    for name, shape in shapes.items():
        n = 1
        for d in shape:
            n *= d
        if n > budget:
            shape, n = (budget,), budget
        tensors[f"layers.{layer}.{name}"] = shape
        budget -= n
        if budget <= 0:
            break
    layer += 1
state = {k: torch.randn(s, generator=g).to(dtype) for k, s in tensors.items()}
save_file(state, out, metadata={"format": "pt"})
total = sum(t.numel() * t.element_size() for t in state.values())
print(f"wrote {out}: {len(state)} tensors, {total / 2**30:.2f} GiB of {dtype}")
