"""Test vectors for the codec module, computed independently of the Java code.

Writes codec/src/test/resources/vectors/*.json: for a few small tensors, the exact payload bytes each
codec should produce (scales, codes, indices), and the values decoding them should give. Floats are
stored as their f32 bit patterns so that nothing is lost in JSON. Rounding: numpy's rint (half to even)
for the absmax codes, PyTorch's casts for bf16 and FP8 E4M3 (torch.float8_e4m3fn), numpy's for f16.

FP4 E2M1 is computed in numpy alone, by distance to each of the eight magnitudes (ties to the even
index), independently of the Java thresholds.

Run from the repository root (needs numpy and torch; torch only for bf16, f16 and fp8):
    python3 -m venv .tributary/pyenv && .tributary/pyenv/bin/pip install numpy torch
    .tributary/pyenv/bin/python codec/src/test/python/make_vectors.py
Or only some files, e.g. the ones numpy alone computes:
    python3 codec/src/test/python/make_vectors.py fp4_g4 fp4_g32
"""
import json
import math
import os
import sys

import numpy as np

try:
    import torch
except ImportError:  # only the numpy-only fixtures can be written
    torch = None

OUT = os.path.join(os.path.dirname(__file__), "..", "resources", "vectors")
F32 = np.float32
MIN_NORMAL = F32(np.finfo(np.float32).tiny)


def bits(a):
    return [int(b) for b in np.asarray(a, dtype=F32).reshape(-1).view(np.uint32)]


def values(a):
    return [float(v) for v in np.asarray(a, dtype=F32).reshape(-1)]


def inputs():
    rng = np.random.default_rng(20240610)
    cases = []
    # Rounding ties: with max 127 the int8 scale is exactly 1, so x/scale lands on k + 0.5.
    cases.append(("ties", [2, 5], F32([127, 0.5, 1.5, 2.5, -2.5, -0.5, 3.5, 126.5, -127, 0])))
    # bf16 halfway cases: 1 + 2^-8 rounds down to 1 (even), 1 + 3 * 2^-8 rounds up.
    cases.append(("bf16_ties", [4], F32([1 + 2 ** -8, 1 + 3 * 2 ** -8, -(1 + 2 ** -8), 2 ** -130])))
    cases.append(("gauss", [3, 7], rng.standard_normal(21).astype(F32)))
    cases.append(("wide", [2, 3, 5], (rng.standard_normal(30) * 10.0 ** rng.integers(-6, 3, 30)).astype(F32)))
    cases.append(("small", [37], (rng.standard_normal(37) * 1e-3).astype(F32)))
    # Magnitude ties for top-k: equal |x| with both signs.
    cases.append(("tied", [4, 6], F32([0.5, -0.5, 0.25, 0.5, -0.25, 0.125] * 4)))
    cases.append(("zeros", [2, 4], np.zeros(8, dtype=F32)))
    cases.append(("scalar", [], F32([-3.25])))
    cases.append(("empty", [0, 3], np.zeros(0, dtype=F32)))
    # FP4 E2M1 ties: with max 6 the fp4 scale is exactly 1, so these fall halfway between two codes;
    # -0.2 rounds to zero and is sent as +0; 7 values, so the last byte is half padding.
    cases.append(("e2m1_ties", [7], F32([6, 0.25, 0.75, 1.25, 1.75, 2.5, 3.5]) * F32([1, 1, -1, 1, -1, 1, 1])))
    cases.append(("e2m1_more", [2, 3], F32([5, -5, -0.2, 4.5, -6, 3])))
    return cases


def absmax_scale(m, qmax):
    s = F32(m) / F32(qmax)
    return s if s >= MIN_NORMAL else F32(0)


def quantize(flat, group, qmax):
    scales, codes = [], []
    for start in range(0, flat.size, group):
        g = flat[start:start + group]
        s = absmax_scale(np.max(np.abs(g)), qmax)
        q = np.zeros(g.size, np.int8) if s == 0 else np.clip(np.rint(g / s), -qmax, qmax).astype(np.int8)
        scales.append(s)
        codes.append(q)
    scales = np.asarray(scales, dtype=F32)
    codes = np.concatenate(codes) if codes else np.zeros(0, np.int8)
    per = np.repeat(scales, group)[:flat.size]
    return scales, codes, codes.astype(F32) * per


def pack4(codes):
    c = codes.astype(np.uint8) & 0xF
    if c.size % 2:
        c = np.append(c, np.uint8(0))
    return (c[0::2] | (c[1::2] << 4)).astype(np.uint8)


def int_codec(name, group, qmax):
    def run(x, shape):
        scales, codes, decoded = quantize(x, group, qmax)
        packed = codes.astype(np.uint8) if qmax == 127 else pack4(codes)
        payload = scales.astype("<f4").tobytes() + packed.tobytes()
        return {"scales": bits(scales), "codes": [int(c) for c in codes], "payload": payload.hex(),
                "decoded": values(decoded)}
    return f"{name}:group={group}", run


def half(name, dtype_name):
    def run(x, shape):
        t = torch.from_numpy(x.copy()).to(getattr(torch, dtype_name))
        h = t.view(torch.int16).numpy().astype("<i2")
        return {"payload": h.tobytes().hex(), "decoded": values(t.to(torch.float32).numpy())}
    return name, run


def fp8(x, shape):
    c = shape[-1] if len(shape) >= 2 else x.size
    rows = 0 if c == 0 else x.size // c
    scales, codes, decoded = [], [], []
    for r in range(rows):
        row = x[r * c:(r + 1) * c]
        s = absmax_scale(np.max(np.abs(row)), 448)
        if s == 0:
            q = torch.zeros(c, dtype=torch.float8_e4m3fn)
        else:
            q = torch.from_numpy((row / s).astype(F32)).to(torch.float8_e4m3fn)
        scales.append(s)
        codes.append(q.view(torch.uint8).numpy())
        decoded.append(q.to(torch.float32).numpy() * s)
    scales = np.asarray(scales, dtype=F32)
    codes = np.concatenate(codes) if codes else np.zeros(0, np.uint8)
    decoded = np.concatenate(decoded) if decoded else np.zeros(0, F32)
    payload = scales.astype("<f4").tobytes() + codes.tobytes()
    return {"scales": bits(scales), "codes": [int(v) for v in codes], "payload": payload.hex(),
            "decoded": values(decoded)}


E2M1 = F32([0, 0.5, 1, 1.5, 2, 3, 4, 6])


def e2m1(y):
    """The 4-bit code of y (already divided by the scale): nearest magnitude, ties to the even index;
    the sign bit only on a non-zero magnitude."""
    codes = []
    for v in np.asarray(y, dtype=F32):
        d = np.abs(np.abs(v) - E2M1)
        best = [i for i in range(8) if d[i] == d.min()]
        m = min(best, key=lambda i: (i % 2, i))
        codes.append(m | (8 if v < 0 and m != 0 else 0))
    return np.asarray(codes, dtype=np.uint8)


def fp4_codec(group):
    def run(x, shape):
        scales, codes, decoded = [], [], []
        for start in range(0, x.size, group):
            g = x[start:start + group]
            s = absmax_scale(np.max(np.abs(g)), 6)
            c = np.zeros(g.size, np.uint8) if s == 0 else e2m1((g / s).astype(F32))
            mag = E2M1[c & 7]
            val = np.where(c & 8, -mag, mag).astype(F32) * s
            scales.append(s)
            codes.append(c)
            decoded.append(val.astype(F32))
        scales = np.asarray(scales, dtype=F32)
        codes = np.concatenate(codes) if codes else np.zeros(0, np.uint8)
        decoded = np.concatenate(decoded) if decoded else np.zeros(0, F32)
        payload = scales.astype("<f4").tobytes() + pack4(codes).tobytes()
        return {"scales": bits(scales), "codes": [int(c) for c in codes], "payload": payload.hex(),
                "decoded": values(decoded)}
    return f"fp4:group={group}", run


def topk(fraction, value_group=None):
    def run(x, shape):
        n = x.size
        k = min(n, math.ceil(fraction * n))
        order = np.lexsort((np.arange(n), -np.abs(x)))
        idx = np.sort(order[:k]).astype("<u4")
        kept = x[idx]
        out = np.zeros(n, dtype=F32)
        if value_group is None:
            vals = kept.astype("<f4").tobytes()
            out[idx] = kept
        else:
            scales, codes, dec = quantize(kept, value_group, 127)
            vals = scales.astype("<f4").tobytes() + codes.astype(np.uint8).tobytes()
            out[idx] = dec
        return {"indices": [int(i) for i in idx], "payload": (idx.tobytes() + vals).hex(), "decoded": values(out)}
    spec = "topk:fraction=" + repr(fraction) + ("" if value_group is None else f"+int8:group={value_group}")
    return spec, run


CODECS = [
    ("int8_g4", *int_codec("int8", 4, 127)),
    ("int8_g64", *int_codec("int8", 64, 127)),
    ("int4_g4", *int_codec("int4", 4, 7)),
    ("int4_g3", *int_codec("int4", 3, 7)),
    ("fp4_g4", *fp4_codec(4)),
    ("fp4_g32", *fp4_codec(32)),
    ("bf16", *half("bf16", "bfloat16")),
    ("f16", *half("f16", "float16")),
    ("fp8", "fp8", fp8),
    ("topk_025", *topk(0.25)),
    ("topk_01_int8", *topk(0.1, 4)),
]


def main():
    os.makedirs(OUT, exist_ok=True)
    only = set(sys.argv[1:])
    for file, spec, run in CODECS:
        if only and file not in only:
            continue
        cases = []
        for name, shape, x in inputs():
            x = np.asarray(x, dtype=F32).reshape(-1)
            case = {"name": name, "shape": shape, "x": bits(x)}
            case.update(run(x, shape))
            cases.append(case)
        with open(os.path.join(OUT, file + ".json"), "w") as f:
            json.dump({"spec": spec, "generator": "codec/src/test/python/make_vectors.py",
                       "numpy": np.__version__, "torch": None if torch is None else torch.__version__, "cases": cases}, f, indent=1)
            f.write("\n")
        print(f"{file}.json: {spec}, {len(cases)} cases")


if __name__ == "__main__":
    main()
