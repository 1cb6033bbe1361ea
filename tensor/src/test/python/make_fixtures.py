"""Writes the reference fixtures the Java tests of the tensor module read.

Run once with PyTorch and safetensors installed (the output is committed):

    /opt/tvenv/bin/python tensor/src/test/python/make_fixtures.py

Everything is written into tensor/src/test/resources/fixtures/:

- all_dtypes.safetensors   every dtype torch can store, a scalar, a zero-size tensor, __metadata__
- all_dtypes.json          per tensor: dtype, shape, raw bytes (hex), the f32 value of every element as
                           PyTorch converts it (bit patterns), and integers exactly (as strings)
- f6.safetensors           F6_E2M3 / F6_E3M2 tensors (torch has no such dtypes: written byte by byte,
                           then checked with safetensors' own reader)
- attn0.safetensors        the METHODS.md byte-exact vector, written by safetensors itself
- sharded/                 two shards plus model.safetensors.index.json, laid out as transformers does
- sharded.json             the f32 values of the sharded checkpoint's tensors
- f8.json                  FP8 tables from PyTorch: f32 value of all 256 patterns of e4m3fn and e5m2,
                           and the byte PyTorch produces for a list of tricky f32 inputs
"""

import json
import math
import os
import random
import struct
import sys

import numpy as np
import torch
from safetensors import deserialize
from safetensors.torch import load_file, save_file

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "fixtures")


def f32_bits(t):
    """The f32 bit pattern (unsigned) of every element of t converted to float32 by PyTorch."""
    return [b & 0xFFFFFFFF for b in t.to(torch.float32).reshape(-1).view(torch.int32).tolist()]


def raw_hex(t):
    if t.numel() == 0:
        return ""
    return t.contiguous().reshape(-1).view(torch.uint8).numpy().tobytes().hex()


def all_dtypes():
    g = torch.Generator().manual_seed(7)
    specials = [0.0, -0.0, 1.0, -2.5, 0.1, 1e-3, float("inf"), float("-inf"), float("nan")]
    t = {}
    t["bool"] = torch.tensor([True, False, True, True, False])
    t["u8"] = torch.tensor([0, 1, 37, 128, 200, 255], dtype=torch.uint8)
    t["i8"] = torch.tensor([-128, -1, 0, 1, 100, 127], dtype=torch.int8).reshape(2, 3)
    t["i16"] = torch.tensor([-32768, -1, 0, 1, 12345, 32767], dtype=torch.int16).reshape(3, 2)
    t["u16"] = torch.from_numpy(np.array([0, 1, 40000, 65535], dtype=np.uint16))
    t["i32"] = torch.tensor([-(2**31), -1, 0, 1, 16777217, 2**31 - 1], dtype=torch.int32)
    t["u32"] = torch.from_numpy(np.array([0, 1, 16777217, 2**31, 2**32 - 1], dtype=np.uint32))
    t["i64"] = torch.tensor([-(2**63), -1, 0, 1, 2**53 + 1, 2**63 - 1], dtype=torch.int64)
    t["u64"] = torch.from_numpy(np.array([0, 1, 2**53 + 1, 2**63 + 2**40, 2**64 - 1], dtype=np.uint64))
    f16_specials = specials + [65504.0, -65504.0, 2.0**-14, 2.0**-24, 3 * 2.0**-24, 1.0009765625]
    t["f16"] = torch.cat([torch.tensor(f16_specials), torch.randn(9, generator=g)]).to(torch.float16).reshape(4, 6)
    bf16_specials = specials + [3.3895313892515355e38, 2.0**-126, 2.0**-133, 1.0078125]
    t["bf16"] = torch.cat([torch.tensor(bf16_specials), torch.randn(11, generator=g)]).to(torch.bfloat16).reshape(4, 6)
    f32_specials = specials + [3.4028234663852886e38, 1.17549435e-38, 1.4e-45, 16777217.0]
    t["f32"] = torch.cat([torch.tensor(f32_specials, dtype=torch.float32), torch.randn(11, generator=g)]).reshape(2, 3, 4)
    f64_specials = specials + [1e300, -1e-300, 5e-324, 1.0000000596046448]
    t["f64"] = torch.cat([torch.tensor(f64_specials, dtype=torch.float64), torch.randn(3, dtype=torch.float64, generator=g)])
    every_byte = torch.arange(256, dtype=torch.int32).to(torch.uint8)
    t["f8_e4m3"] = every_byte.view(torch.float8_e4m3fn).reshape(16, 16)
    t["f8_e5m2"] = every_byte.clone().view(torch.float8_e5m2).reshape(16, 16)
    t["f8_e8m0"] = torch.tensor([0, 1, 126, 127, 128, 254, 255], dtype=torch.uint8).view(torch.float8_e8m0fnu)
    t["f4"] = torch.tensor([0x10, 0x32, 0xF7, 0x8A], dtype=torch.uint8).view(torch.float4_e2m1fn_x2)
    t["c64"] = torch.tensor([1 + 2j, -3.5 + 0.25j, 0j], dtype=torch.complex64)
    t["scalar"] = torch.tensor(3.5)
    t["scalar_i64"] = torch.tensor(-42, dtype=torch.int64)
    t["empty"] = torch.zeros((0, 3))
    t["empty_bf16"] = torch.zeros((2, 0, 5), dtype=torch.bfloat16)
    return t


DTYPE_NAMES = {
    torch.bool: "BOOL", torch.uint8: "U8", torch.int8: "I8", torch.int16: "I16", torch.uint16: "U16",
    torch.int32: "I32", torch.uint32: "U32", torch.int64: "I64", torch.uint64: "U64",
    torch.float16: "F16", torch.bfloat16: "BF16", torch.float32: "F32", torch.float64: "F64",
    torch.float8_e4m3fn: "F8_E4M3", torch.float8_e5m2: "F8_E5M2", torch.float8_e8m0fnu: "F8_E8M0",
    torch.float4_e2m1fn_x2: "F4", torch.complex64: "C64",
}
OPAQUE = {torch.float8_e8m0fnu, torch.float4_e2m1fn_x2, torch.complex64}
INTEGER = {torch.bool, torch.uint8, torch.int8, torch.int16, torch.uint16, torch.int32, torch.uint32,
           torch.int64, torch.uint64}


def expected(t):
    out = {}
    for name, v in t.items():
        shape = list(v.shape)
        if v.dtype == torch.float4_e2m1fn_x2:
            shape[-1] *= 2  # two values per byte: the header counts values
        e = {"dtype": DTYPE_NAMES[v.dtype], "shape": shape, "hex": raw_hex(v)}
        if v.dtype not in OPAQUE:
            if v.dtype in (torch.uint16, torch.uint32, torch.uint64):
                as_np = v.numpy().reshape(-1)
                e["f32"] = [struct.unpack("<I", struct.pack("<f", np.float32(x)))[0] for x in as_np]
                e["ints"] = [str(int(x)) for x in as_np]
            else:
                e["f32"] = f32_bits(v)
                if v.dtype in INTEGER:
                    e["ints"] = [str(int(x)) for x in v.reshape(-1).tolist()]
        out[name] = e
    return out


def write_f6():
    """F6 tensors: 6 bits per value, packed; 4 values take 3 bytes."""
    tensors = [("e2m3", "F6_E2M3", [4], bytes([0x12, 0x34, 0x56])),
               ("e3m2", "F6_E3M2", [2, 4], bytes([0xAB, 0xCD, 0xEF, 0x01, 0x23, 0x45]))]
    header, data, off = {}, b"", 0
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(raw)]}
        data += raw
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    blob = struct.pack("<Q", len(h)) + h + data
    parsed = dict(deserialize(blob))  # the reference reader must accept it
    for name, dtype, shape, raw in tensors:
        assert parsed[name]["dtype"] == dtype and list(parsed[name]["shape"]) == shape, parsed[name]
        assert bytes(parsed[name]["data"]) == raw
    with open(os.path.join(OUT, "f6.safetensors"), "wb") as f:
        f.write(blob)
    return {name: {"dtype": dtype, "shape": shape, "hex": raw.hex()} for name, dtype, shape, raw in tensors}


def write_sharded():
    """Two shards and an index, as transformers' save_pretrained writes them."""
    g = torch.Generator().manual_seed(11)
    shards = [
        {"embed.weight": torch.randn(4, 3, generator=g), "layers.0.weight": torch.randn(3, 3, generator=g)},
        {"layers.0.bias": torch.randn(3, generator=g).to(torch.bfloat16), "head.weight": torch.randn(2, 3, generator=g)},
    ]
    d = os.path.join(OUT, "sharded")
    os.makedirs(d, exist_ok=True)
    weight_map, total = {}, 0
    for i, shard in enumerate(shards):
        fname = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        save_file(shard, os.path.join(d, fname), metadata={"format": "pt"})
        for k, v in shard.items():
            weight_map[k] = fname
            total += v.numel() * v.element_size()
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    with open(os.path.join(d, "model.safetensors.index.json"), "w", encoding="utf-8") as f:
        f.write(json.dumps(index, indent=2, sort_keys=True) + "\n")
    values = {}
    for shard in shards:
        for k, v in shard.items():
            values[k] = {"dtype": DTYPE_NAMES[v.dtype], "shape": list(v.shape), "f32": f32_bits(v)}
    return values


def f32_from_bits(b):
    return struct.unpack("<f", struct.pack("<I", b & 0xFFFFFFFF))[0]


def bits_from_f32(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def next_up(b):
    """The next f32 bit pattern away from zero (same sign)."""
    return b + 1


def tricky_inputs():
    """f32 inputs (bit patterns) around every FP8 value and boundary, plus random ones."""
    every = torch.arange(256, dtype=torch.int32).to(torch.uint8)
    inputs = set()
    for fmt in (torch.float8_e4m3fn, torch.float8_e5m2):
        vals = sorted({v for v in every.view(fmt).to(torch.float32).tolist() if math.isfinite(v) and v >= 0})
        for v in vals:
            inputs.add(bits_from_f32(v))
        for a, b in zip(vals, vals[1:]):
            mid = bits_from_f32((a + b) / 2)  # exact: FP8 midpoints are representable in f32
            inputs.update({mid, mid - 1, mid + 1})
        top = vals[-1]
        step = top - vals[-2]
        for x in (top + step / 2, top + step, top + 2 * step, top * 4):
            b = bits_from_f32(x)
            inputs.update({b, b - 1, b + 1})
    for x in (3.4028234663852886e38, 1e10, 65504.0, 65520.0, 1.17549435e-38, 1.4e-45, 1e-40,
              2.0**-9, 2.0**-10, 3 * 2.0**-11, 2.0**-16, 2.0**-17, 3 * 2.0**-18, 2.0**-30, 0.0):
        b = bits_from_f32(x)
        inputs.update({b, max(b - 1, 0), b + 1})
    inputs.update({0x7F800000, 0x7FC00000, 0x7F800001, 0x7FFFFFFF, 0x7FA00000})
    rnd = random.Random(5)
    for _ in range(2000):
        exp = rnd.randint(127 - 24, 127 + 18)
        inputs.add((exp << 23) | rnd.getrandbits(23))
    for _ in range(500):
        inputs.add(rnd.getrandbits(31))
    positive = sorted(inputs)
    return positive + [b | 0x80000000 for b in positive]


def write_f8():
    every = torch.arange(256, dtype=torch.int32).to(torch.uint8)
    inputs = tricky_inputs()
    x = torch.tensor([b - (1 << 32) if b >= 1 << 31 else b for b in inputs], dtype=torch.int32).view(torch.float32)
    table = {
        "e4m3_decode": f32_bits(every.view(torch.float8_e4m3fn)),
        "e5m2_decode": f32_bits(every.view(torch.float8_e5m2)),
        "inputs": inputs,
        "e4m3_encode": x.to(torch.float8_e4m3fn).view(torch.uint8).tolist(),
        "e5m2_encode": x.to(torch.float8_e5m2).view(torch.uint8).tolist(),
    }
    with open(os.path.join(OUT, "f8.json"), "w") as f:
        json.dump(table, f, separators=(",", ":"))
        f.write("\n")
    return len(inputs)


def main():
    os.makedirs(OUT, exist_ok=True)
    t = all_dtypes()
    meta = {"format": "pt", "source": "make_fixtures.py", "unicode": "π ≈ 3.14159, \"quoted\"\n"}
    path = os.path.join(OUT, "all_dtypes.safetensors")
    save_file(t, path, metadata=meta)
    back = load_file(path)
    for k, v in t.items():
        assert back[k].dtype == v.dtype and back[k].shape == v.shape, k
    exp = {"metadata": meta, "tensors": expected(t), "f6": write_f6()}
    with open(os.path.join(OUT, "all_dtypes.json"), "w", encoding="utf-8") as f:
        json.dump(exp, f, indent=1, ensure_ascii=False)
        f.write("\n")
    save_file({"attn.0": torch.arange(6, dtype=torch.float32).reshape(1, 2, 3)}, os.path.join(OUT, "attn0.safetensors"))
    with open(os.path.join(OUT, "sharded.json"), "w") as f:
        json.dump(write_sharded(), f, indent=1)
        f.write("\n")
    n = write_f8()
    print(f"fixtures written to {os.path.normpath(OUT)} (torch {torch.__version__}, {n} f8 inputs)", file=sys.stderr)


if __name__ == "__main__":
    main()
