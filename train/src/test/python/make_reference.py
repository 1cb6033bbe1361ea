"""Reference training runs in PyTorch for DjlReferenceTest.

Writes, under src/test/resources/dev/tributary/train/djl/reference/:
  inputs.u8       16 images of 28x28 unsigned pixels, then their 16 labels (one byte each)
  <case>.f32      the initial parameters, then the parameters after 5 steps, little-endian float32,
                  concatenated in named_parameters() order
Each step uses all 16 images as one batch (so the order the Java side draws cannot matter), with inputs
standardized as (pixel / 255 - 0.2860406) / 0.3530242 and the mean cross-entropy as the loss.

Run: /opt/tvenv/bin/python src/test/python/make_reference.py   (from the train module directory)
"""
import pathlib

import numpy as np
import torch
import torch.nn.functional as F

OUT = pathlib.Path(__file__).resolve().parents[1] / "resources/dev/tributary/train/djl/reference"
MEAN, STD = 0.2860406, 0.3530242
N, SIDE, CLASSES, STEPS = 16, 28, 10, 5


class Mlp(torch.nn.Module):
    def __init__(self, hidden):
        super().__init__()
        self.fc1 = torch.nn.Linear(SIDE * SIDE, hidden)
        self.fc2 = torch.nn.Linear(hidden, CLASSES)

    def forward(self, x):
        return self.fc2(F.relu(self.fc1(x)))


class Cnn(torch.nn.Module):
    def __init__(self, c1, c2, hidden):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, c1, 5, padding=2)
        self.conv2 = torch.nn.Conv2d(c1, c2, 5, padding=2)
        self.fc1 = torch.nn.Linear(c2 * (SIDE // 4) ** 2, hidden)
        self.fc2 = torch.nn.Linear(hidden, CLASSES)

    def forward(self, x):
        x = x.reshape(-1, 1, SIDE, SIDE)
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = F.relu(self.fc1(x.flatten(1)))
        return self.fc2(x)


def flat(model):
    return np.concatenate([p.detach().numpy().astype("<f4").ravel() for p in model.parameters()])


def run(name, model, make_opt, x, y):
    initial = flat(model)
    opt = make_opt(model.parameters())
    for _ in range(STEPS):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    trained = flat(model)
    np.concatenate([initial, trained]).tofile(OUT / f"{name}.f32")
    print(name, [(n, tuple(p.shape)) for n, p in model.named_parameters()], float(loss.detach()))


def main():
    torch.manual_seed(0)
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, size=(N, SIDE * SIDE), dtype=np.uint8)
    labels = rng.integers(0, CLASSES, size=N, dtype=np.uint8)
    OUT.mkdir(parents=True, exist_ok=True)
    np.concatenate([pixels.ravel(), labels]).tofile(OUT / "inputs.u8")
    x = (torch.from_numpy(pixels).float() / 255 - MEAN) / STD
    y = torch.from_numpy(labels).long()
    sgd = lambda ps: torch.optim.SGD(ps, lr=0.05, momentum=0.9, weight_decay=1e-3)
    adamw = lambda ps: torch.optim.AdamW(ps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
    run("mlp-sgd", Mlp(8), sgd, x, y)
    run("mlp-adamw", Mlp(8), adamw, x, y)
    run("cnn-sgd", Cnn(2, 4, 8), sgd, x, y)
    run("cnn-adamw", Cnn(2, 4, 8), adamw, x, y)


if __name__ == "__main__":
    main()
