"""Writes the merge module's parity fixtures: small checkpoints, mergekit-style configs and the expected
result of every merge method, computed here in PyTorch from the formulas of METHODS.md (mergekit's
conventions for the merge methods, Flower's for the robust aggregators).

Run from the repository root:  /opt/tvenv/bin/python merge/src/test/python/make_fixtures.py
Output: merge/src/test/resources/fixtures/ (deterministic; rerunning rewrites the same bytes).

Reference arithmetic: inputs of every dtype are upcast to f32; deltas and sparsification are computed
in f32 (as the Java code does), everything else in f64; results go f64 -> f32 -> target dtype, each
rounding to nearest even.
"""
import json
import math
import os
import shutil

import numpy as np
import torch
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "fixtures")
DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}
YAML_DTYPE = {"f32": "float32", "f16": "float16", "bf16": "bfloat16"}
MASK64 = (1 << 64) - 1
GOLDEN = 0x9E3779B97F4A7C15

# Odd sizes, a 3-D and a 0-D tensor, a tensor no model changes, and an integer buffer that is passed through.
SHAPES = {
    "embed.weight": (11, 6),
    "layers.0.attn.q_proj.weight": (13, 11),
    "layers.0.attn.q_proj.bias": (13,),
    "layers.0.mlp.conv": (5, 3, 7),
    "layers.1.frozen.weight": (4, 9),
    "norm.scale": (9,),
    "temperature": (),
}
FROZEN = "layers.1.frozen.weight"
POSITION_IDS = "position_ids"


def rng_tensor(gen, shape, scale=1.0):
    return torch.tensor(np.asarray(gen.standard_normal(shape), dtype=np.float32)) * torch.tensor(scale, dtype=torch.float32)


def make_models():
    gen = np.random.default_rng(20240607)
    base = {name: rng_tensor(gen, shape) for name, shape in SHAPES.items()}
    models = {"base": base}
    for name, noise in (("a", 0.1), ("b", 0.15), ("c", 0.08), ("d", 2.0)):
        m = {}
        for t, shape in SHAPES.items():
            m[t] = base[t].clone() if t == FROZEN else base[t] + rng_tensor(gen, shape, noise)
        models[name] = m
    fishers = {}
    for name in ("a", "b", "c", "d"):
        f = {}
        for t, shape in SHAPES.items():
            v = torch.tensor(np.asarray(gen.standard_normal(shape), dtype=np.float32)).abs()
            flat = v.view(-1)
            if flat.numel() > 2:
                flat[0] = 0.0
                flat[1] = 3e-7
            f[t] = v
        fishers[name] = f
    return models, fishers


def with_ids(tensors):
    out = dict(tensors)
    out[POSITION_IDS] = torch.arange(6, dtype=torch.int64)
    return out


def cast(model, dtype):
    return {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in model.items()}


def save(tensors, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, path, metadata={"format": "pt"})


def save_sharded(tensors, folder):
    os.makedirs(folder, exist_ok=True)
    names = list(tensors.keys())
    halves = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map = {}
    total = 0
    for i, part in enumerate(halves):
        fname = f"model-{i + 1:05d}-of-{len(halves):05d}.safetensors"
        save({k: tensors[k] for k in part}, os.path.join(folder, fname))
        for k in part:
            weight_map[k] = fname
            total += tensors[k].numel() * tensors[k].element_size()
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)


# ---------------------------------------------------------------- reference math, one tensor at a time

def f32(t):
    return t.to(torch.float32)


def out_cast(t64, dtype):
    return t64.to(torch.float32).to(dtype)


def rank_keep(delta, start, stop):
    """Zero the entries whose rank by magnitude (descending, equal magnitudes in index order) is outside
    [start, stop)."""
    flat = delta.reshape(-1)
    order = torch.sort(flat.abs(), descending=True, stable=True).indices
    mask = torch.zeros_like(flat)
    mask[order[max(start, 0):max(stop, 0)]] = 1
    return (flat * mask).reshape(delta.shape)


def mix64(z):
    z = np.asarray(z, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def fnv1a(s):
    h = 0xCBF29CE484222325
    for b in s.encode("utf-8"):
        h ^= b
        h = (h * 0x100000001B3) & MASK64
    return h


def dare_uniforms(seed, tensor, model, n):
    inner = int(mix64(np.uint64((fnv1a(tensor) + GOLDEN * (model + 1)) & MASK64)))
    key = int(mix64(np.uint64((seed & MASK64) ^ inner)))
    j = np.arange(n, dtype=np.uint64) + np.uint64(1)
    with np.errstate(over="ignore"):
        x = mix64(np.uint64(key) + np.uint64(GOLDEN) * j)
    return (x >> np.uint64(40)).astype(np.float64) * 2.0 ** -24


def sparsify(delta, method, density, gamma, rescale, seed, tensor, model):
    if method is None or density >= 1:
        return delta
    n = delta.numel()
    before = delta.double().abs().sum().item()
    if method == "magnitude":
        out = rank_keep(delta, 0, math.floor(density * n))
    elif method == "outliers":
        target = math.floor(density * n)
        top = math.floor(gamma * n)
        bottom = n - target - top
        if bottom < 0:
            top += bottom
        # mergekit keeps sorted[bottom:-top], which is empty when top == 0: the whole delta goes
        out = rank_keep(delta, top, top + target) if top > 0 else torch.zeros_like(delta)
    elif method == "random":
        u = torch.from_numpy(dare_uniforms(seed, tensor, model, n)).reshape(delta.shape)
        out = torch.where(u < density, delta, torch.zeros_like(delta))
    else:
        raise ValueError(method)
    if rescale:
        after = out.double().abs().sum().item()
        if before >= 1e-7 and after >= 1e-7:
            out = (out.double() * (before / after)).float()
    return out


def task_vectors(name, xs, base, p, sparse, consensus):
    """mergekit's generalized task arithmetic."""
    w = [m["weight"] for m in p["models"]]
    deltas = []
    for i, x in enumerate(xs):
        d = f32(x) - f32(base)
        deltas.append(sparsify(d, sparse, p["models"][i].get("density", 1.0), p["models"][i].get("gamma", 0.01),
                               p["rescale"], p.get("seed", 0), name, i))
    lam = p["lambda"]
    b = f32(base).double()
    if not consensus:
        total = sum(w)
        div = total if p["normalize"] and abs(total) >= 1e-8 else 1.0
        mixed = torch.zeros_like(b)
        for wi, d in zip(w, deltas):
            mixed += wi * d.double()
        return b + lam * mixed / div
    ds = [wi * d.double() for wi, d in zip(w, deltas)]
    s = torch.zeros_like(b)
    for d in ds:
        s += d
    positive = s >= 0
    mixed = torch.zeros_like(b)
    div = torch.zeros_like(b)
    for wi, d in zip(w, ds):
        agree = (d != 0) & ((d > 0) == positive)
        mixed += torch.where(agree, d, torch.zeros_like(d))
        div += torch.where(agree, torch.full_like(d, wi), torch.zeros_like(d))
    if p["normalize"]:
        mixed = mixed / torch.where(div == 0, torch.ones_like(div), div)
    return b + lam * mixed


def linear(name, xs, base, p):
    w = [m["weight"] for m in p["models"]]
    acc = torch.zeros_like(f32(xs[0]).double())
    for wi, x in zip(w, xs):
        acc += wi * f32(x).double()
    return acc / sum(w) if p["normalize"] else acc


def slerp(name, xs, base, p):
    t = p["t"]
    v0 = f32(base).double().reshape(-1)
    v1 = f32(xs[0]).double().reshape(-1)
    n0 = v0.norm().item()
    n1 = v1.norm().item()
    dot = torch.dot(v0, v1).item() / ((n0 if n0 > 1e-8 else 1.0) * (n1 if n1 > 1e-8 else 1.0))
    if abs(dot) > 0.9995:
        s0, s1 = 1 - t, t
    else:
        omega = math.acos(dot)
        s0 = math.sin((1 - t) * omega) / math.sin(omega)
        s1 = math.sin(t * omega) / math.sin(omega)
    return (s0 * v0 + s1 * v1).reshape(base.shape)


def model_stock(name, xs, base, p):
    b = f32(base)
    shape = b.shape
    row = shape[-1] if p["filter_wise"] and len(shape) > 0 else b.numel()
    bf = b.reshape(-1, row) if b.numel() else b.reshape(0)
    offsets = [(f32(x) - b).reshape(-1, row).double() for x in xs]
    models = [f32(x).reshape(-1, row).double() for x in xs]
    n = len(xs)
    cos_sum = torch.zeros(bf.shape[0], dtype=torch.float64)
    pairs = 0
    for i in range(n):
        for k in range(i + 1, n):
            norms = offsets[i].norm(dim=-1) * offsets[k].norm(dim=-1)
            cos_sum += ((offsets[i] * offsets[k]).sum(dim=-1) / norms.clamp(min=1e-6)).clamp(-1, 1)
            pairs += 1
    cos = (cos_sum / pairs).unsqueeze(-1)
    t = n * cos / (1 + (n - 1) * cos)
    mean = sum(models) / n
    return (t * mean + (1 - t) * bf.double()).reshape(shape)


def fisher(name, xs, base, p, fishers):
    num = torch.zeros_like(f32(xs[0]).double())
    den = torch.zeros_like(num)
    for m, x, f in zip(p["models"], xs, fishers):
        fw = m.get("weight", 1.0) * f32(f).double().clamp(min=1e-6)
        num += fw * f32(x).double()
        den += fw
    return num / den


def median(name, xs, base, p):
    stack = torch.stack([f32(x).double() for x in xs])
    s = torch.sort(stack, dim=0).values
    n = len(xs)
    return s[n // 2] if n % 2 == 1 else (s[n // 2 - 1] + s[n // 2]) / 2


def trimmed_mean(name, xs, base, p):
    n = len(xs)
    cut = math.floor(p["beta"] * n)
    s = torch.sort(torch.stack([f32(x).double() for x in xs]), dim=0).values
    return s[cut:n - cut].mean(dim=0)


def krum_select(models, names, byzantine, keep, weights):
    """Flower's aggregate_krum over the whole flattened model; returns per-model coefficients."""
    flat = [torch.cat([f32(m[t]).double().reshape(-1) for t in names]) for m in models]
    n = len(models)
    dist = [[((flat[i] - flat[k]) ** 2).sum().item() for k in range(n)] for i in range(n)]
    closest = max(1, n - byzantine - 2)
    scores = []
    for i in range(n):
        others = sorted(dist[i][k] for k in range(n) if k != i)
        scores.append(sum(others[:closest]))
    order = sorted(range(n), key=lambda i: (scores[i], i))[:keep]
    total = sum(weights[i] for i in order)
    return [(weights[i] / total if i in order else 0.0) for i in range(n)], scores


# ---------------------------------------------------------------- cases

W3 = [{"weight": 1.0}, {"weight": 0.8}, {"weight": 0.6}]


def case_list():
    gta = dict(normalize=False, rescale=False)
    return [
        ("linear", "linear", ["a", "b", "c"], False,
         dict(models=[{"weight": 0.5}, {"weight": 0.3}, {"weight": 0.2}], normalize=True), {}),
        ("linear_sum", "linear", ["a", "b", "c"], False,
         dict(models=[{"weight": 1.0}, {"weight": -0.5}, {"weight": 0.25}], normalize=False), {"normalize": False}),
        ("task_arithmetic", "task_arithmetic", ["a", "b", "c"], True,
         dict(models=[{"weight": 1.0}, {"weight": 0.5}, {"weight": -0.3}], **gta, **{"lambda": 0.8}),
         {"lambda": 0.8}),
        ("ties", "ties", ["a", "b", "c"], True,
         dict(models=[{"weight": 1.0, "density": 0.5}, {"weight": 0.8, "density": 0.7},
                      {"weight": 0.6, "density": 0.3}], normalize=True, rescale=False, **{"lambda": 1.0}), {}),
        ("ties_unnormalized", "ties", ["a", "b", "c"], True,
         dict(models=[{"weight": 1.0, "density": 0.4}, {"weight": -0.5, "density": 0.9},
                      {"weight": 0.7, "density": 0.6}], normalize=False, rescale=False, **{"lambda": 1.3}),
         {"normalize": False, "lambda": 1.3}),
        ("dare_linear", "dare_linear", ["a", "b", "c"], True,
         dict(models=[{"weight": 1.0, "density": 0.6}, {"weight": 0.5, "density": 0.4},
                      {"weight": 0.7, "density": 0.5}], normalize=False, rescale=True, seed=42, **{"lambda": 1.0}),
         {"seed": 42}),
        ("dare_ties", "dare_ties", ["a", "b", "c"], True,
         dict(models=[{"weight": 1.0, "density": 0.6}, {"weight": 0.8, "density": 0.5},
                      {"weight": 0.6, "density": 0.7}], normalize=False, rescale=True, seed=7, **{"lambda": 0.9}),
         {"seed": 7, "lambda": 0.9}),
        ("breadcrumbs", "breadcrumbs", ["a", "b", "c"], True,
         dict(models=[{"weight": 1.0, "density": 0.8, "gamma": 0.05}, {"weight": 0.5, "density": 0.7, "gamma": 0.1},
                      {"weight": 0.7, "density": 0.9, "gamma": 0.2}], **gta, **{"lambda": 1.0}), {}),
        ("breadcrumbs_ties", "breadcrumbs_ties", ["a", "b", "c"], True,
         dict(models=[{"weight": 1.0, "density": 0.8, "gamma": 0.05}, {"weight": 0.8, "density": 0.6, "gamma": 0.01},
                      {"weight": 0.6, "density": 0.9, "gamma": 0.1}], **gta, **{"lambda": 1.0}), {}),
        ("slerp", "slerp", ["a"], True, dict(models=[{}], t=0.3), {"t": 0.3}),
        ("model_stock", "model_stock", ["a", "b", "c"], True, dict(models=[{}, {}, {}], filter_wise=False), {}),
        ("model_stock_filter_wise", "model_stock", ["a", "b", "c"], True,
         dict(models=[{}, {}, {}], filter_wise=True), {"filter_wise": True}),
        ("fisher", "fisher", ["a", "b", "c"], False,
         dict(models=[{"weight": 1.0}, {"weight": 2.0}, {"weight": 0.5}]), {}),
        ("median", "median", ["a", "b", "c", "d"], False, dict(models=[{}, {}, {}, {}]), {}),
        ("median_odd", "median", ["a", "b", "d"], False, dict(models=[{}, {}, {}]), {}),
        ("trimmed_mean", "trimmed_mean", ["a", "b", "c", "d"], False, dict(models=[{}, {}, {}, {}], beta=0.25),
         {"beta": 0.25}),
        ("krum", "krum", ["a", "d", "b", "c"], False, dict(models=[{}, {}, {}, {}], byzantine=1), {"byzantine": 1}),
        ("multi_krum", "multi_krum", ["a", "d", "b", "c"], False,
         dict(models=[{"weight": 1.0}, {"weight": 2.0}, {"weight": 3.0}, {"weight": 4.0}], byzantine=1, keep=2),
         {"byzantine": 1, "keep": 2}),
    ]


PER_TENSOR = {
    "linear": linear, "slerp": slerp, "model_stock": model_stock, "median": median, "trimmed_mean": trimmed_mean,
    "task_arithmetic": lambda n, xs, b, p: task_vectors(n, xs, b, p, None, False),
    "ties": lambda n, xs, b, p: task_vectors(n, xs, b, p, "magnitude", True),
    "dare_linear": lambda n, xs, b, p: task_vectors(n, xs, b, p, "random", False),
    "dare_ties": lambda n, xs, b, p: task_vectors(n, xs, b, p, "random", True),
    "breadcrumbs": lambda n, xs, b, p: task_vectors(n, xs, b, p, "outliers", False),
    "breadcrumbs_ties": lambda n, xs, b, p: task_vectors(n, xs, b, p, "outliers", True),
}


def expected(method, names, has_base, p, models, fishers, out_dtype):
    xs_models = [models[n] for n in names]
    base = models["base"] if has_base else None
    float_names = [t for t in SHAPES]
    out = {}
    if method in ("krum", "multi_krum"):
        weights = [m.get("weight", 1.0) for m in p["models"]]
        keep = p.get("keep", 1) if method == "multi_krum" else 1
        coeffs, _ = krum_select(xs_models, float_names, p["byzantine"], keep, weights)
    for t in float_names:
        xs = [m[t] for m in xs_models]
        if method in ("krum", "multi_krum"):
            r = torch.zeros_like(f32(xs[0]).double())
            for c, x in zip(coeffs, xs):
                if c:
                    r += c * f32(x).double()
        elif method == "fisher":
            r = fisher(t, xs, None, p, [fishers[n][t] for n in names])
        else:
            r = PER_TENSOR[method](t, xs, base[t] if base is not None else None, p)
        out[t] = out_cast(r.reshape(SHAPES[t]), out_dtype)
    out[POSITION_IDS] = torch.arange(6, dtype=torch.int64)
    return out


def yaml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    return repr(v)


def write_config(path, method, names, model_paths, has_base, base_path, model_params, top, dtype=None,
                 fisher_paths=None):
    lines = ["models:"]
    for i, n in enumerate(names):
        lines.append(f"  - model: {model_paths[n]}")
        params = dict(model_params[i])
        if fisher_paths:
            params["fisher"] = fisher_paths[n]
        if params:
            lines.append("    parameters:")
            for k, v in params.items():
                lines.append(f"      {k}: {v if isinstance(v, str) else yaml_value(v)}")
    lines.append(f"merge_method: {method}")
    if has_base:
        lines.append(f"base_model: {base_path}")
    if top:
        lines.append("parameters:")
        for k, v in top.items():
            lines.append(f"  {k}: {yaml_value(v)}")
    if dtype:
        lines.append(f"dtype: {dtype}")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    if os.path.isdir(ROOT):
        # mergekit/ and peft/ have scripts of their own (make_mergekit_fixtures.py, make_peft_fixtures.py)
        for entry in os.listdir(ROOT):
            if entry not in ("mergekit", "peft"):
                path = os.path.join(ROOT, entry)
                shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    models, fishers = make_models()
    for tag, dt in DTYPES.items():
        for name, m in models.items():
            save(with_ids(cast(m, dt)), os.path.join(ROOT, "models", tag, f"{name}.safetensors"))
    save_sharded(with_ids(models["b"]), os.path.join(ROOT, "models", "f32", "b_sharded"))
    for name, f in fishers.items():
        save(f, os.path.join(ROOT, "fisher", f"{name}.safetensors"))
    os.makedirs(os.path.join(ROOT, "cases"), exist_ok=True)
    os.makedirs(os.path.join(ROOT, "expected"), exist_ok=True)
    index = []
    for case, method, names, has_base, p, top in case_list():
        for tag, dt in DTYPES.items():
            variants = [(f"{case}_{tag}", tag, None, dt)]
            if tag == "f32" and case in ("linear", "ties"):
                variants.append((f"{case}_f32_to_bf16", tag, "bfloat16", torch.bfloat16))
                variants.append((f"{case}_sharded_f32", "sharded", None, dt))
            if tag == "bf16" and case == "linear":
                variants.append((f"{case}_bf16_to_f32", tag, "float32", torch.float32))
            for case_name, layout, out_dtype_name, out_dt in variants:
                src_tag = "f32" if layout == "sharded" else layout
                in_models = {k: cast(v, DTYPES[src_tag]) for k, v in models.items()}
                paths = {n: f"../models/{src_tag}/{n}.safetensors" for n in models}
                if layout == "sharded":
                    paths["b"] = "../models/f32/b_sharded"
                fpaths = {n: f"../fisher/{n}.safetensors" for n in fishers} if method == "fisher" else None
                write_config(os.path.join(ROOT, "cases", f"{case_name}.yaml"), method, names, paths, has_base,
                             paths["base"], p["models"], top, out_dtype_name, fpaths)
                save(expected(method, names, has_base, p, in_models, fishers, out_dt),
                     os.path.join(ROOT, "expected", f"{case_name}.safetensors"))
                index.append({"case": case_name, "method": method,
                              "dtype": {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}[out_dt]})
    with open(os.path.join(ROOT, "cases", "index.json"), "w") as f:
        json.dump(index, f, indent=1)
    # Krum scores on the f32 models, for a test of the first pass.
    _, scores = krum_select([models[n] for n in ("a", "d", "b", "c")], list(SHAPES), 1, 1, [1, 1, 1, 1])
    with open(os.path.join(ROOT, "expected", "krum_scores_f32.json"), "w") as f:
        json.dump({"models": ["a", "d", "b", "c"], "byzantine": 1, "scores": scores}, f, indent=1)
    make_lora()
    print(f"wrote {len(index)} cases and the LoRA fixtures under {os.path.normpath(ROOT)}")


# ---------------------------------------------------------------- LoRA (PEFT layout)

def lora_delta(a, b, scale, transposed):
    d = b.double() @ a.double()
    return (d.T if transposed else d) * scale


def write_adapter(folder, config, tensors):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "adapter_config.json"), "w") as f:
        json.dump(config, f, indent=2)
    save(tensors, os.path.join(folder, "adapter_model.safetensors"))


def make_lora():
    gen = np.random.default_rng(7)
    root = os.path.join(ROOT, "lora")
    p = "base_model.model."

    # Llama-like base: q_proj and v_proj (v_proj with a rank_pattern), fc (alpha_pattern), an embedding.
    base = {
        "model.embed_tokens.weight": rng_tensor(gen, (10, 6)),
        "model.layers.0.self_attn.q_proj.weight": rng_tensor(gen, (6, 6)),
        "model.layers.0.self_attn.v_proj.weight": rng_tensor(gen, (4, 6)),
        "model.layers.0.mlp.fc.weight": rng_tensor(gen, (8, 6)),
        "model.layers.0.mlp.fc.bias": rng_tensor(gen, (8,)),
        "model.norm.weight": rng_tensor(gen, (6,)),
    }
    config = {"peft_type": "LORA", "base_model_name_or_path": "tiny-llama", "r": 4, "lora_alpha": 8,
              "target_modules": ["q_proj", "v_proj", "fc", "embed_tokens"], "rank_pattern": {"v_proj": 2},
              "alpha_pattern": {"fc": 3.0}, "use_rslora": False, "fan_in_fan_out": False, "lora_dropout": 0.0,
              "bias": "none", "task_type": "CAUSAL_LM", "inference_mode": True}
    adapter = {
        p + "model.layers.0.self_attn.q_proj.lora_A.weight": rng_tensor(gen, (4, 6), 0.3),
        p + "model.layers.0.self_attn.q_proj.lora_B.weight": rng_tensor(gen, (6, 4), 0.3),
        p + "model.layers.0.self_attn.v_proj.lora_A.weight": rng_tensor(gen, (2, 6), 0.3),
        p + "model.layers.0.self_attn.v_proj.lora_B.weight": rng_tensor(gen, (4, 2), 0.3),
        p + "model.layers.0.mlp.fc.lora_A.weight": rng_tensor(gen, (4, 6), 0.3),
        p + "model.layers.0.mlp.fc.lora_B.weight": rng_tensor(gen, (8, 4), 0.3),
        p + "model.embed_tokens.lora_embedding_A": rng_tensor(gen, (4, 10), 0.3),
        p + "model.embed_tokens.lora_embedding_B": rng_tensor(gen, (6, 4), 0.3),
    }
    scales = {"model.layers.0.self_attn.q_proj": 8 / 4, "model.layers.0.self_attn.v_proj": 8 / 2,
              "model.layers.0.mlp.fc": 3.0 / 4, "model.embed_tokens": 8 / 4}
    write_adapter(os.path.join(root, "llama_adapter"), config, adapter)
    for tag in ("f32", "bf16"):
        dt = DTYPES[tag]
        b = cast(base, dt)
        save(b, os.path.join(root, f"llama_base_{tag}.safetensors"))
        for sign, label in ((1, "merged"), (-1, "unmerged")):
            out = dict(b)
            for module, s in scales.items():
                emb = module.endswith("embed_tokens")
                ka = p + module + (".lora_embedding_A" if emb else ".lora_A.weight")
                kb = p + module + (".lora_embedding_B" if emb else ".lora_B.weight")
                w = module + ".weight"
                delta = lora_delta(adapter[ka], adapter[kb], s, emb)
                if emb or sign < 0:
                    # PEFT casts an embedding's delta, and every delta it subtracts, to the weight's dtype first
                    delta = out_cast(delta, dt).double()
                out[w] = out_cast(f32(b[w]).double() + sign * delta, dt)
            save(out, os.path.join(root, f"llama_{label}_{tag}.safetensors"))

    # GPT-2-like base: Conv1D weights stored (in, out), fan_in_fan_out, rsLoRA, a regex target_modules.
    gpt = {
        "transformer.h.0.attn.c_attn.weight": rng_tensor(gen, (6, 9)),
        "transformer.h.0.mlp.c_fc.weight": rng_tensor(gen, (6, 12)),
        "transformer.h.0.mlp.c_proj.weight": rng_tensor(gen, (12, 6)),
    }
    gconfig = {"peft_type": "LORA", "r": 3, "lora_alpha": 6, "target_modules": r".*\.(c_attn|c_fc)",
               "use_rslora": True, "fan_in_fan_out": True, "rank_pattern": {}, "alpha_pattern": {}}
    gadapter = {
        p + "transformer.h.0.attn.c_attn.lora_A.weight": rng_tensor(gen, (3, 6), 0.3),
        p + "transformer.h.0.attn.c_attn.lora_B.weight": rng_tensor(gen, (9, 3), 0.3),
        p + "transformer.h.0.mlp.c_fc.lora_A.weight": rng_tensor(gen, (3, 6), 0.3),
        p + "transformer.h.0.mlp.c_fc.lora_B.weight": rng_tensor(gen, (12, 3), 0.3),
    }
    write_adapter(os.path.join(root, "gpt_adapter"), gconfig, gadapter)
    save(gpt, os.path.join(root, "gpt_base_f32.safetensors"))
    gout = dict(gpt)
    for module in ("transformer.h.0.attn.c_attn", "transformer.h.0.mlp.c_fc"):
        w = module + ".weight"
        gout[w] = out_cast(gpt[w].double() + lora_delta(gadapter[p + module + ".lora_A.weight"],
                                                         gadapter[p + module + ".lora_B.weight"], 6 / math.sqrt(3),
                                                         True), torch.float32)
    save(gout, os.path.join(root, "gpt_merged_f32.safetensors"))

    # Extraction: a tuned model whose 2-D deltas have known ranks, a changed bias, an unchanged norm.
    tuned = dict(base)
    ranks = {"model.layers.0.self_attn.q_proj.weight": 2, "model.layers.0.mlp.fc.weight": 6,
             "model.embed_tokens.weight": 3, "model.layers.0.self_attn.v_proj.weight": 4}
    for w, r in ranks.items():
        rows, cols = base[w].shape
        delta = rng_tensor(gen, (rows, r), 0.2) @ rng_tensor(gen, (r, cols), 0.2)
        tuned[w] = base[w] + delta
    tuned["model.layers.0.mlp.fc.bias"] = base["model.layers.0.mlp.fc.bias"] + 0.01
    save(base, os.path.join(root, "extract_base.safetensors"))
    save(tuned, os.path.join(root, "extract_tuned.safetensors"))
    energies = {}
    for w in ranks:
        sv = torch.linalg.svdvals(f32(tuned[w]) - f32(base[w])).double()
        energies[w] = {str(k): (sv[:k] ** 2).sum().item() / (sv ** 2).sum().item() for k in (1, 2, 3)}
    with open(os.path.join(root, "extract_energy.json"), "w") as f:
        json.dump(energies, f, indent=1)


if __name__ == "__main__":
    main()
