"""One PyTorch training step of the Fashion-MNIST MLP from Python: the baseline of StepBench.

Same work per step as the DJL trainer: gather a shuffled batch from 6,000 resident standardized images,
forward (784-200-10, ReLU), cross-entropy, zero_grad, backward, SGD (lr 0.02, momentum 0.9) step, and the
loss accumulated without a sync. Two intra-op threads, one inter-op thread.

Usage: torch_step.py [--batch 64,32] [--steps 200] [--warmup 300] [--reps 15] [--threads 2]
Prints one line per batch size: median and minimum over the repetitions of the milliseconds per step.
"""
import argparse
import statistics
import time

import torch
import torch.nn.functional as F

EXAMPLES, MEAN, STD = 6000, 0.2860406, 0.3530242


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", default="64,32")
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--reps", type=int, default=15)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_num_interop_threads(1)
    g = torch.Generator().manual_seed(0)
    pixels = torch.randint(0, 256, (EXAMPLES, 784), dtype=torch.uint8, generator=g)
    inputs = (pixels.float() / 255 - MEAN) / STD
    labels = torch.randint(0, 10, (EXAMPLES,), generator=g)

    for batch in [int(b) for b in args.batch.split(",")]:
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(784, 200), torch.nn.ReLU(), torch.nn.Linear(200, 10))
        opt = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
        loss_sum = torch.zeros(())
        state = {"order": torch.randperm(EXAMPLES, generator=g), "cursor": 0}

        def step():
            if state["cursor"] >= EXAMPLES:
                state["order"] = torch.randperm(EXAMPLES, generator=g)
                state["cursor"] = 0
            c = state["cursor"]
            rows = state["order"][c:c + batch]
            state["cursor"] = c + batch
            loss = F.cross_entropy(model(inputs[rows]), labels[rows])
            opt.zero_grad()
            loss.backward()
            opt.step()
            loss_sum.add_(loss.detach())

        for _ in range(args.warmup):
            step()
        per_step = []
        for _ in range(args.reps):
            t0 = time.perf_counter()
            for _ in range(args.steps):
                step()
            per_step.append((time.perf_counter() - t0) * 1e3 / args.steps)
        reps = ",".join(f"{x:.3f}" for x in per_step)
        print(f"torch threads={args.threads} batch={batch} median_ms={statistics.median(per_step):.4f} min_ms={min(per_step):.4f} reps=[{reps}]",
              flush=True)


if __name__ == "__main__":
    main()
