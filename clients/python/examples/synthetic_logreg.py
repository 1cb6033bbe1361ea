"""Trains a torch nn.Linear for a coordinator serving `tributary init --task synthetic-logreg`.

The model's layout is the task's (linear.weight [1,16], linear.bias [1], f32); the data is this
script's own: points drawn from N(0, I) labelled by a hidden logistic model, as a user's would be.

    python examples/synthetic_logreg.py --coordinator 127.0.0.1:7070 --token "$(head -1 state/tokens)"
"""

import argparse
import logging
import sys

import torch

from tributary_client import Worker

FEATURES = 16


class LogReg(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(FEATURES, 1)

    def forward(self, x):
        return self.linear(x).squeeze(-1)


def make_data(seed, n=512):
    g = torch.Generator().manual_seed(seed)
    truth = torch.randn(FEATURES, generator=torch.Generator().manual_seed(20240601))
    x = torch.randn(n, FEATURES, generator=g)
    y = torch.bernoulli(torch.sigmoid(x @ truth), generator=g)
    return x, y


def trainer(x, y, steps, batch, lr, seed):
    g = torch.Generator().manual_seed(seed)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    def train(model):
        opt = torch.optim.SGD(model.parameters(), lr=lr)
        total = 0.0
        for _ in range(steps):
            i = torch.randint(len(x), (batch,), generator=g)
            opt.zero_grad()
            loss = loss_fn(model(x[i]), y[i])
            loss.backward()
            opt.step()
            total += loss.item()
        return steps * batch, {"loss": total / steps}, steps

    return train


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--coordinator", default="127.0.0.1:7070", help="HOST:PORT of the coordinator's gRPC")
    p.add_argument("--token", help="bearer token (or --token-file)")
    p.add_argument("--token-file", help="file whose first line is the bearer token")
    p.add_argument("--updates", type=int, default=10, help="updates to have acknowledged; 0 runs forever")
    p.add_argument("--steps", type=int, default=20, help="local SGD steps per update")
    p.add_argument("--ack-log", help="append the id of each acknowledged update to this file")
    p.add_argument("--tls-root-ca", help="PEM of the CA that signed the coordinator's certificate")
    p.add_argument("--max-backoff", type=float, default=5.0, help="longest wait between retries, seconds")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--codec", default="safetensors", choices=["safetensors", "f16", "bf16"],
                   help="how deltas travel: the plain safetensors image, or 16-bit floats (half the bytes)")
    p.add_argument("--quiet", action="store_true", help="no line per update")
    args = p.parse_args(argv)
    token = args.token or (open(args.token_file).readline().strip() if args.token_file else None)
    if not token:
        p.error("give --token or --token-file")
    logging.basicConfig(level=logging.WARNING if args.quiet else logging.INFO, format="%(message)s", stream=sys.stdout)
    torch.manual_seed(args.seed)
    x, y = make_data(args.seed)
    model = LogReg()
    with Worker(args.coordinator, token, model=model, tls_root_ca=args.tls_root_ca, max_backoff=args.max_backoff,
                ack_log=args.ack_log, seed=args.seed, codec=args.codec) as w:
        s = w.run(trainer(x, y, args.steps, 32, 0.1, args.seed), updates=args.updates)
    print(f"{s.acknowledged} updates acknowledged ({s.duplicates} duplicates), {s.refused} refused, "
          f"{s.retries} retries; version {s.version}", flush=True)


if __name__ == "__main__":
    main()
