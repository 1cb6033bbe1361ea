"""Writes the PEFT-parity fixtures: tiny Hugging Face models, adapters trained-looking (random) and saved by
PEFT's own save_pretrained, and the weights PEFT's merge_and_unload() (and merge_adapter() followed by
unmerge_adapter()) gives for them.

Setup (once): a venv with peft torch transformers safetensors numpy, e.g.
    python3 -m venv .tributary/pyenv && .tributary/pyenv/bin/pip install peft torch transformers safetensors numpy
Run from the repository root:  .tributary/pyenv/bin/python merge/src/test/python/make_peft_fixtures.py
Output: merge/src/test/resources/fixtures/peft/<case>/ with
    base/model.safetensors      the base model
    adapter/                    adapter_config.json + adapter_model.safetensors, as PEFT saved them
    merged.safetensors          PEFT's merge_and_unload()
    unmerged.safetensors        PEFT's merge_adapter() then unmerge_adapter(), unloaded
With --out DIR --seed N it writes the same cases with other random weights under DIR (the live test does so).

Cases:
    llama_dora       DoRA on linear layers and on the embedding, rank_pattern and alpha_pattern, lm_head in
                     modules_to_save, and the embedding saved whole (save_embedding_layers, PEFT's default when
                     an embedding is targeted) with rows that differ from the base, as after adding tokens
    llama_lora_bf16  plain LoRA on a bfloat16 base, same embedding and modules_to_save handling
    gpt2_dora        DoRA on GPT-2's Conv1D layers (fan_in_fan_out) with rsLoRA
    llama_dora_bf16  DoRA on a bfloat16 base (PEFT computes the weight norm and the magnitude scale in bf16)
"""
import argparse
import json
import os
import shutil
import warnings

import torch
from safetensors.torch import save_file

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "fixtures", "peft")


def llama(dtype):
    from transformers import LlamaConfig, LlamaForCausalLM
    cfg = LlamaConfig(vocab_size=24, hidden_size=8, intermediate_size=12, num_hidden_layers=2, num_attention_heads=2,
                      num_key_value_heads=1, max_position_embeddings=16, tie_word_embeddings=False)
    model = LlamaForCausalLM(cfg)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.5)
    return model.to(dtype)


def gpt2():
    from transformers import GPT2Config, GPT2LMHeadModel
    model = GPT2LMHeadModel(GPT2Config(vocab_size=24, n_embd=8, n_layer=2, n_head=2, n_positions=16))
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.5)
    return model


def state(model):
    return {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()}


def randomize(peft_model):
    """Gives every trainable adapter tensor a value far from its initialization (B = 0 would merge to nothing)."""
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if not p.requires_grad:
                continue
            if "lora_magnitude_vector" in name:
                p.mul_(1 + 0.3 * torch.randn_like(p))
            elif "modules_to_save" in name:
                p.normal_(0, 0.5)
            else:
                p.normal_(0, 0.4)


def tidy_adapter(folder):
    """Drops PEFT's model card template and sorts target_modules (PEFT writes a set) so reruns write the same bytes."""
    os.remove(os.path.join(folder, "README.md"))
    path = os.path.join(folder, "adapter_config.json")
    with open(path) as f:
        config = json.load(f)
    if isinstance(config.get("target_modules"), list):
        config["target_modules"] = sorted(config["target_modules"])
    with open(path, "w") as f:
        json.dump(config, f, indent=2, sort_keys=True)


def write(folder, base, peft_model, make):
    """Saves the base, the adapter, PEFT's merge_and_unload() and its merge-then-unmerge of the same adapter."""
    from peft import PeftModel
    os.makedirs(os.path.join(folder, "base"), exist_ok=True)
    save_file(base, os.path.join(folder, "base", "model.safetensors"), metadata={"format": "pt"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peft_model.save_pretrained(os.path.join(folder, "adapter"))
    tidy_adapter(os.path.join(folder, "adapter"))
    # reload the way a user does, so that the fixtures are what PEFT makes of the saved files
    fresh = make()
    fresh.load_state_dict(base)
    loaded = PeftModel.from_pretrained(fresh, os.path.join(folder, "adapter"))
    merged = state(loaded.merge_and_unload())
    save_file(merged, os.path.join(folder, "merged.safetensors"), metadata={"format": "pt"})
    fresh = make()
    fresh.load_state_dict(base)
    loaded = PeftModel.from_pretrained(fresh, os.path.join(folder, "adapter"))
    loaded.merge_adapter()
    loaded.unmerge_adapter()
    save_file(state(loaded.unload()), os.path.join(folder, "unmerged.safetensors"), metadata={"format": "pt"})


def llama_case(folder, seed, dtype, dora):
    from peft import LoraConfig, get_peft_model
    torch.manual_seed(seed)
    make = lambda: llama(dtype)  # noqa: E731
    model = make()
    base = state(model)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj", "embed_tokens"],
                        rank_pattern={"v_proj": 2}, alpha_pattern={"down_proj": 3}, modules_to_save=["lm_head"],
                        use_dora=dora, init_lora_weights=True)
    peft_model = get_peft_model(model, config)
    randomize(peft_model)
    with torch.no_grad():
        # the last rows of the embedding as after adding tokens: saved whole in the adapter, not in the base
        emb = peft_model.base_model.model.model.embed_tokens.base_layer.weight
        emb[-4:] = torch.randn_like(emb[-4:])
    write(folder, base, peft_model, make)


def gpt2_case(folder, seed):
    from peft import LoraConfig, get_peft_model
    torch.manual_seed(seed)
    model = gpt2()
    base = state(model)
    config = LoraConfig(r=3, lora_alpha=5, target_modules=["c_attn", "c_fc"], fan_in_fan_out=True, use_rslora=True,
                        use_dora=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peft_model = get_peft_model(model, config)
    randomize(peft_model)
    # GPT-2 ties lm_head to wte: save_file refuses shared tensors, so the base file holds wte only
    base.pop("lm_head.weight", None)

    def make():
        return gpt2()

    from peft import PeftModel
    os.makedirs(os.path.join(folder, "base"), exist_ok=True)
    save_file(base, os.path.join(folder, "base", "model.safetensors"), metadata={"format": "pt"})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peft_model.save_pretrained(os.path.join(folder, "adapter"))
    tidy_adapter(os.path.join(folder, "adapter"))
    for what in ("merged", "unmerged"):
        fresh = make()
        fresh.load_state_dict(base, strict=False)
        loaded = PeftModel.from_pretrained(fresh, os.path.join(folder, "adapter"))
        if what == "merged":
            out = loaded.merge_and_unload()
        else:
            loaded.merge_adapter()
            loaded.unmerge_adapter()
            out = loaded.unload()
        weights = state(out)
        weights.pop("lm_head.weight", None)
        save_file(weights, os.path.join(folder, what + ".safetensors"), metadata={"format": "pt"})


CASES = {
    "llama_dora": lambda folder, seed: llama_case(folder, seed, torch.float32, True),
    "llama_lora_bf16": lambda folder, seed: llama_case(folder, seed + 1, torch.bfloat16, False),
    "gpt2_dora": lambda folder, seed: gpt2_case(folder, seed + 2),
    "llama_dora_bf16": lambda folder, seed: llama_case(folder, seed + 3, torch.bfloat16, True),
}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=ROOT)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    for name, make in CASES.items():
        make(os.path.join(args.out, name), args.seed)
    with open(os.path.join(args.out, "index.json"), "w") as f:
        json.dump(sorted(CASES), f, indent=1)
    print(f"wrote {len(CASES)} PEFT cases under {os.path.normpath(args.out)}")


if __name__ == "__main__":
    main()
