"""Writes src/main/resources/moons.csv: two interleaved half-moons with Gaussian noise (x1, x2, label)."""
import math
import random

rng = random.Random(7)
rows = []
for i in range(1200):
    label = i % 2
    t = rng.uniform(0, math.pi)
    x, y = (math.cos(t), math.sin(t)) if label == 0 else (1 - math.cos(t), 0.5 - math.sin(t))
    rows.append((x + rng.gauss(0, 0.15), y + rng.gauss(0, 0.15), label))
with open("src/main/resources/moons.csv", "w") as f:
    f.write("x1,x2,label\n")
    for x, y, l in rows:
        f.write(f"{x:.5f},{y:.5f},{l}\n")
