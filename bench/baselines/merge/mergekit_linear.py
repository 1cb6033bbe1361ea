"""Runs the same linear merge with mergekit (installed from its source) through its own run_merge, with the
options of a plain `mergekit-yaml CONFIG OUT --no-copy-tokenizer`. mergekit reads models from folders with a
config.json; this script gives each input such a folder (the weights linked, not copied) whose architecture
mergekit does not know, so that it infers the tensors from the file, as it does for any unknown model (one
shim below works around a crash of that path). mergekit does not fsync its output.

Usage: mergekit_linear.py --out DIR --work DIR --weights W1 W2 ... -- MODEL1.safetensors ...
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "..", "merge", "src", "test", "python"))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--work", required=True)
    p.add_argument("--weights", type=float, nargs="+", required=True)
    p.add_argument("models", nargs="+")
    a = p.parse_args()
    start = time.perf_counter()
    from make_mergekit_fixtures import compatibility_shims
    compatibility_shims()
    import mergekit.architecture.auto as auto
    # mergekit's inference from tensor names fails (None is not iterable) when transformers cannot build the
    # model; with no tied or embedding weights known it works as intended
    found = auto.get_transformers_info
    auto.get_transformers_info = lambda *args: (lambda r: (r[0], r[1] or [], r[2] or set(), r[3]))(found(*args))
    from mergekit.config import MergeConfiguration
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions
    models = []
    for i, m in enumerate(a.models):
        folder = os.path.join(a.work, f"mk{i}")
        os.makedirs(folder, exist_ok=True)
        link = os.path.join(folder, "model.safetensors")
        if not os.path.lexists(link):
            os.symlink(os.path.abspath(m), link)
        with open(os.path.join(folder, "config.json"), "w") as f:
            # a config for which transformers has no causal LM, so that mergekit takes the names from the file
            json.dump({"architectures": ["BenchModel"], "model_type": "vit"}, f)
        models.append({"model": folder, "parameters": {"weight": a.weights[i]}})
    config = MergeConfiguration.model_validate({"models": models, "merge_method": "linear", "dtype": "float32"})
    run_merge(config, a.out, options=MergeOptions(copy_tokenizer=False, lazy_unpickle=False, quiet=True,
                                                   write_model_card=False))
    print(f"merged into {a.out} in {time.perf_counter() - start:.3f} s (in-process)")


if __name__ == "__main__":
    main()
