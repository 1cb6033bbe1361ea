"""Writes the mergekit-parity fixtures: tiny Hugging Face models (Llama and GPT-2, with tokenizers), mergekit
YAML configs using slices, passthrough, gradients, filters, out_dtype, a listed base model and della, and the
folders the real mergekit writes for them.

Setup (once): a venv with torch safetensors transformers numpy pydantic pyyaml accelerate peft tqdm click
tokenizers, and mergekit installed from its source without its pinned dependencies:
    python3 -m venv .tributary/pyenv
    .tributary/pyenv/bin/pip install torch safetensors transformers numpy pydantic pyyaml accelerate peft tqdm click
    .tributary/pyenv/bin/pip install --no-deps <mergekit checkout>      # made with mergekit at a6e4028
Run from the repository root:  .tributary/pyenv/bin/python merge/src/test/python/make_mergekit_fixtures.py
Output: merge/src/test/resources/fixtures/mergekit/ (models/, cases/*.yaml, expected/<case>/).

mergekit draws its DARE and DELLA masks with torch.bernoulli. So that the masks can be compared, this script
replaces torch.bernoulli while mergekit runs with the counter-based stream Tributary uses (DareRandom: keep
entry j when u_j < p_j, u from (seed 0, output tensor name, index of the model among the non-base models));
everything else is mergekit's own code.
"""
import collections.abc
import inspect
import json
import os
import shutil
import sys
import types

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_fixtures import dare_uniforms  # noqa: E402

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "fixtures", "mergekit")


def compatibility_shims():
    """Lets mergekit import where its pinned versions are not to be had: `immutables` (only Map is used) and
    pydantic >= 2.11, whose create_model no longer takes methods as keyword arguments."""
    try:
        import immutables  # noqa: F401
    except ImportError:
        module = types.ModuleType("immutables")

        class Map(collections.abc.Mapping):
            def __init__(self, data=()):
                self._d = dict(data)

            def __getitem__(self, k):
                return self._d[k]

            def __iter__(self):
                return iter(self._d)

            def __len__(self):
                return len(self._d)

            def __hash__(self):
                return hash(frozenset(self._d.items()))

            def __class_getitem__(cls, item):
                return cls

        module.Map = Map
        sys.modules["immutables"] = module
    import pydantic
    original = pydantic.create_model

    def create_model(name, __base__=None, **fields):
        methods = {k: v for k, v in fields.items() if inspect.isfunction(v)}
        rest = {k: v for k, v in fields.items() if k not in methods}
        if methods and __base__ is not None:
            __base__ = type(name + "Methods", (__base__,), dict(methods, __module__=__name__))
        return original(name, __base__=__base__, **rest)

    pydantic.create_model = create_model


def seeded_masks():
    """Replaces torch.bernoulli inside mergekit's task-arithmetic merges with Tributary's seeded stream."""
    import mergekit.merge_methods.generalized_task_arithmetic as gta
    context = {"tensor": None, "model": -1}
    execute = gta.GTATask.execute
    sparsify = gta.sparsify

    def traced_execute(self, tensors, **kwargs):
        context["tensor"], context["model"] = self.weight_info.name, -1
        return execute(self, tensors, **kwargs)

    def traced_sparsify(tensor, **kwargs):
        context["model"] += 1
        return sparsify(tensor, **kwargs)

    def bernoulli(p, *args, **kwargs):
        u = torch.from_numpy(dare_uniforms(0, context["tensor"], context["model"], p.numel())).reshape(p.shape)
        return (u < p.double()).to(p.dtype)

    gta.GTATask.execute = traced_execute
    gta.sparsify = traced_sparsify
    torch.bernoulli = bernoulli


def tokenizer(path, vocab_size):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast
    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for i in range(3, vocab_size):
        vocab[f"w{i}"] = i
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    fast.save_pretrained(path)


def make_models():
    from transformers import GenerationConfig, GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM
    llama = LlamaConfig(vocab_size=32, hidden_size=8, intermediate_size=16, num_hidden_layers=4,
                        num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=32,
                        tie_word_embeddings=False)
    gpt2 = GPT2Config(vocab_size=32, n_embd=8, n_layer=3, n_head=2, n_positions=32, bos_token_id=1, eos_token_id=2)
    for seed, name in enumerate(["base", "a", "b"]):
        torch.manual_seed(100 + seed)
        model = LlamaForCausalLM(llama)
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(0, 0.5)
        path = os.path.join(ROOT, "models", name)
        model.save_pretrained(path)
        GenerationConfig(bos_token_id=1, eos_token_id=2, max_new_tokens=7).save_pretrained(path)
        tokenizer(path, 32)
    for seed, name in enumerate(["gpt_a", "gpt_b"]):
        torch.manual_seed(200 + seed)
        model = GPT2LMHeadModel(gpt2)
        with torch.no_grad():
            for p in model.parameters():
                p.normal_(0, 0.5)
        model.save_pretrained(os.path.join(ROOT, "models", name))


CASES = {
    # A base listed among the models with its own parameters (unused), a weight gradient, density filters.
    "ties_gradients": """
models:
  - model: ../models/base
    parameters: {weight: 1.0}
  - model: ../models/a
    parameters:
      weight: [0.2, 1.0]
      density: [{filter: self_attn, value: 0.4}, {filter: mlp, value: [0.9, 0.3]}, {value: 0.6}]
  - model: ../models/b
    parameters:
      weight: [1.0, 0.5, 0.8]
      density: 0.5
merge_method: ties
base_model: ../models/base
parameters:
  normalize: true
  int8_mask: true
dtype: float32
""",
    # Breadcrumbs on a tiny model, where floor(gamma * n) = 0 drops a model's whole delta (mergekit keeps
    # sorted[bottom:-top], empty for top = 0): with gamma 0.01 (model a) every norm (8 entries) and attention
    # projection (32 or 64) loses its delta and the MLP projections (128) their largest entry; with gamma 0.02
    # (model b) the norms and k/v projections lose theirs. The base is listed with parameters of its own.
    "breadcrumbs_small": """
models:
  - model: ../models/base
    parameters: {weight: 0.3, density: 0.5}
  - model: ../models/a
    parameters: {weight: 0.6, density: 0.9}
  - model: ../models/b
    parameters: {weight: 0.4, density: 0.7, gamma: 0.02}
merge_method: breadcrumbs
base_model: ../models/base
dtype: float32
""",
    "breadcrumbs_ties_small": """
models:
  - model: ../models/base
    parameters: {weight: 1.0}
  - model: ../models/a
    parameters: {weight: 0.7, density: 0.8, gamma: 0.05}
  - model: ../models/b
    parameters: {weight: 0.5, density: 0.6}
merge_method: breadcrumbs_ties
base_model: ../models/base
parameters: {normalize: true}
dtype: float32
""",
    "della": """
models:
  - model: ../models/base
  - model: ../models/a
    parameters: {weight: 0.6, density: 0.5, epsilon: 0.1}
  - model: ../models/b
    parameters: {weight: 0.4, density: [0.3, 0.7], epsilon: 0.2}
merge_method: della
base_model: ../models/base
parameters:
  lambda: [1.0, 0.8]
dtype: float32
""",
    "della_linear": """
models:
  - model: ../models/a
    parameters:
      weight: 0.7
      density: 0.6
      epsilon: [{filter: q_proj, value: 0.05}, {value: 0.25}]
  - model: ../models/b
    parameters: {weight: 0.5, density: 0.4}
merge_method: della_linear
base_model: ../models/base
parameters:
  rescale: true
dtype: float32
""",
    "dare_ties": """
models:
  - model: ../models/a
    parameters: {weight: 0.6, density: [0.3, 0.9]}
  - model: ../models/b
    parameters: {weight: 0.5, density: 0.5}
merge_method: dare_ties
base_model: ../models/base
dtype: float32
""",
    # mergekit's best-known example: slerp over a slice, t by filter and by depth.
    "slerp_slices": """
slices:
  - sources:
      - model: ../models/a
        layer_range: [0, 4]
      - model: ../models/b
        layer_range: [0, 4]
merge_method: slerp
base_model: ../models/a
parameters:
  t:
    - filter: self_attn
      value: [0, 0.5, 0.3, 0.7, 1]
    - filter: mlp
      value: [1, 0.5, 0.7, 0.3, 0]
    - value: 0.5
dtype: float32
""",
    # A frankenmerge: 3 layers of base then 3 of a (overlapping), o_proj of the second slice scaled.
    "passthrough_llama": """
slices:
  - sources:
      - model: ../models/base
        layer_range: [0, 3]
  - sources:
      - model: ../models/a
        layer_range: [1, 4]
        parameters:
          scale: [{filter: o_proj, value: 0.5}, {value: 1.0}]
merge_method: passthrough
dtype: float32
""",
    "passthrough_gpt2": """
slices:
  - sources:
      - model: ../models/gpt_a
        layer_range: [0, 2]
  - sources:
      - model: ../models/gpt_b
        layer_range: [1, 3]
merge_method: passthrough
dtype: float32
""",
    # linear takes the listed base as one more model; computed in float32, written in bfloat16.
    "linear_out_dtype": """
models:
  - model: ../models/base
    parameters: {weight: 0.5}
  - model: ../models/a
    parameters: {weight: [0.25, 1.0]}
  - model: ../models/b
    parameters: {weight: 0.25}
merge_method: linear
base_model: ../models/base
dtype: float32
out_dtype: bfloat16
tokenizer_source: base
""",
    # Slices of a method with a base: the base among each slice's sources, slice-level parameters.
    "task_arithmetic_slices": """
slices:
  - sources:
      - model: ../models/base
        layer_range: [0, 2]
      - model: ../models/a
        layer_range: [0, 2]
        parameters: {weight: 0.7}
      - model: ../models/b
        layer_range: [0, 2]
        parameters: {weight: [0.1, 0.9]}
  - sources:
      - model: ../models/base
        layer_range: [2, 4]
      - model: ../models/a
        layer_range: [2, 4]
        parameters: {weight: 0.3}
      - model: ../models/b
        layer_range: [2, 4]
        parameters: {weight: 0.6}
    parameters: {lambda: 0.5}
merge_method: task_arithmetic
base_model: ../models/base
parameters: {lambda: 1.2}
dtype: float32
""",
}


def run_mergekit(name, text):
    import yaml
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions
    cases = os.path.join(ROOT, "cases")
    path = os.path.join(cases, name + ".yaml")
    with open(path, "w") as f:
        f.write(text.lstrip())
    config = yaml.safe_load(text)

    def absolute(node):
        if isinstance(node, dict):
            return {k: (os.path.normpath(os.path.join(cases, v)) if k in ("model", "base_model") and isinstance(v, str)
                        else absolute(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [absolute(v) for v in node]
        return node

    config = absolute(config)
    if config.get("tokenizer_source") not in (None, "base", "union"):
        config["tokenizer_source"] = os.path.normpath(os.path.join(cases, config["tokenizer_source"]))
    out = os.path.join(ROOT, "work", name)
    run_merge(MergeConfiguration.model_validate(config), out,
              options=MergeOptions(copy_tokenizer=True, lazy_unpickle=False, quiet=True, write_model_card=False))
    keep = os.path.join(ROOT, "expected", name)
    os.makedirs(keep, exist_ok=True)
    for f in ("model.safetensors", "config.json"):
        shutil.copy(os.path.join(out, f), os.path.join(keep, f))


def main():
    compatibility_shims()
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    os.makedirs(os.path.join(ROOT, "cases"))
    make_models()
    seeded_masks()
    for name, text in CASES.items():
        run_mergekit(name, text)
    shutil.rmtree(os.path.join(ROOT, "work"))
    with open(os.path.join(ROOT, "cases", "index.json"), "w") as f:
        json.dump(sorted(CASES), f, indent=1)
    print(f"wrote {len(CASES)} mergekit cases under {os.path.normpath(ROOT)}")


if __name__ == "__main__":
    main()
