"""Records reference trajectories of Gymnasium's classic-control environments for Tributary's tests.

Each run starts from Gymnasium's own seeded reset, then plays a fixed action sequence (seeded random
actions or a simple hand-written controller) through the registered environment, time limit included,
until it terminates or is truncated. The fixture keeps the start state and, for every step, the action,
the environment's internal state, the observation, the reward and both end flags, so that a test can
replay the actions from the start state without Python.

Usage (writes rl/src/test/resources/dev/tributary/rl/env/*.json):
    python3 -m venv .tributary/gymenv && .tributary/gymenv/bin/pip install gymnasium numpy
    .tributary/gymenv/bin/python rl/src/test/python/record_classic_control.py
"""

import json
import pathlib

import gymnasium as gym
import numpy as np

OUT = pathlib.Path(__file__).resolve().parents[1] / "resources" / "dev" / "tributary" / "rl" / "env"


def state_of(env):
    return [float(v) for v in np.asarray(env.unwrapped.state, dtype=np.float64)]


def record(env_id, name, reset_seed, choose, expect):
    """One run; choose(step, observation, rng) returns the action, expect is 'terminated' or 'truncated'."""
    env = gym.make(env_id)
    obs, _ = env.reset(seed=reset_seed)
    rng = np.random.default_rng(reset_seed + 1000)
    run = {
        "name": name,
        "reset_seed": reset_seed,
        "start_state": state_of(env),
        "start_observation": [float(v) for v in obs],
        "actions": [], "states": [], "observations": [], "rewards": [], "terminated": [], "truncated": [],
    }
    step = 0
    while True:
        action = choose(step, obs, rng)
        obs, reward, terminated, truncated, _ = env.step(action)
        run["actions"].append(float(action[0]) if isinstance(action, np.ndarray) else int(action))
        run["states"].append(state_of(env))
        run["observations"].append([float(v) for v in obs])
        run["rewards"].append(float(reward))
        run["terminated"].append(bool(terminated))
        run["truncated"].append(bool(truncated))
        step += 1
        if terminated or truncated:
            break
    ended = "terminated" if terminated else "truncated"
    if ended != expect:
        raise SystemExit(f"{env_id} {name}: ended {ended} after {step} steps, expected {expect}")
    env.close()
    return run


def random_discrete(n):
    return lambda step, obs, rng: int(rng.integers(n))


def cartpole_balance(step, obs, rng):
    # A linear state feedback that keeps the pole up; every 7th step is random so the run is not periodic.
    if step % 7 == 3:
        return int(rng.integers(2))
    x, x_dot, theta, theta_dot = obs
    return 1 if 0.1 * x + 0.5 * x_dot + 10.0 * theta + 2.0 * theta_dot > 0 else 0


def acrobot_pump(step, obs, rng):
    # Torque along the second joint's velocity pumps energy in until the tip swings above the bar.
    return 2 if obs[5] > 0 else 0


def pendulum_random(step, obs, rng):
    return rng.uniform(-2.0, 2.0, size=(1,)).astype(np.float32)


def pendulum_pump(step, obs, rng):
    # Beyond the torque limit on purpose (Gymnasium clips it), pushing along the angular velocity.
    return np.array([3.0 if obs[2] >= 0 else -2.5], dtype=np.float32)


def main():
    runs = {
        "CartPole-v1": [
            record("CartPole-v1", "random-a", 3, random_discrete(2), "terminated"),
            record("CartPole-v1", "random-b", 11, random_discrete(2), "terminated"),
            record("CartPole-v1", "random-c", 21, random_discrete(2), "terminated"),
            record("CartPole-v1", "balance-a", 5, cartpole_balance, "truncated"),
            record("CartPole-v1", "balance-b", 9, cartpole_balance, "truncated"),
        ],
        "Acrobot-v1": [
            record("Acrobot-v1", "pump", 2, acrobot_pump, "terminated"),
            record("Acrobot-v1", "random", 4, random_discrete(3), "truncated"),
        ],
        "Pendulum-v1": [
            record("Pendulum-v1", "random", 6, pendulum_random, "truncated"),
            record("Pendulum-v1", "pump-clipped", 8, pendulum_pump, "truncated"),
        ],
    }
    OUT.mkdir(parents=True, exist_ok=True)
    for env_id, env_runs in runs.items():
        spec = gym.spec(env_id)
        fixture = {
            "env": env_id,
            "gymnasium": gym.__version__,
            "numpy": np.__version__,
            "max_episode_steps": spec.max_episode_steps,
            "runs": env_runs,
        }
        path = OUT / (env_id.split("-")[0].lower() + ".json")
        path.write_text(json.dumps(fixture, separators=(",", ":")) + "\n")
        print(path.name, [(r["name"], len(r["actions"])) for r in env_runs])


if __name__ == "__main__":
    main()
