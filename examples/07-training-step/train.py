# SPDX-License-Identifier: MIT
"""Ten training steps of examples/07-training-step/mlp.graph.yaml on the simulator, each step one
machine run (forward, loss, backward, every weight's SGD update), the weights and momentum of
one step fed to the next; then step 1's gradients against numpy in float64.

    PYTHONPATH=build/python /usr/bin/python3 examples/07-training-step/train.py
"""
import os
import sys

import numpy as np

import dojosim

HERE = os.path.dirname(os.path.abspath(__file__))
GRAPH = os.path.join(HERE, "mlp.graph.yaml")
CONFIG = os.path.join(HERE, "..", "..", "configs", "tiny.yaml")


def synthetic_batch(rng):
    """32 points of 64 features, the label of each the index of its largest of 10 features: a
    task the MLP can learn."""
    x = rng.standard_normal((32, 64)).astype(np.float32)
    return x, x[:, :10].argmax(axis=1).astype(np.int32)


def initial_weights(rng):
    w = {}
    for name, fan_in, fan_out in (("fc1", 64, 128), ("fc2", 128, 128), ("fc3", 128, 10)):
        bound = 1 / np.sqrt(fan_in)  # PyTorch's nn.Linear
        w[name + ".w"] = rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32)
        w[name + ".b"] = rng.uniform(-bound, bound, fan_out).astype(np.float32)
    return w


def gradients_f64(w, x, labels):
    """The MLP's forward and backward in float64: the reference of step 1's gradients."""
    w = {k: v.astype(np.float64) for k, v in w.items()}
    h1 = x @ w["fc1.w"] + w["fc1.b"]
    a1 = np.maximum(h1, 0)
    h2 = a1 @ w["fc2.w"] + w["fc2.b"]
    a2 = np.maximum(h2, 0)
    logits = a2 @ w["fc3.w"] + w["fc3.b"]
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    d3 = p.copy()
    d3[np.arange(len(labels)), labels] -= 1
    d3 /= len(labels)
    d2 = (d3 @ w["fc3.w"].T) * (h2 > 0)
    d1 = (d2 @ w["fc2.w"].T) * (h1 > 0)
    return {"fc3.w": a2.T @ d3, "fc3.b": d3.sum(0), "fc2.w": a1.T @ d2, "fc2.b": d2.sum(0),
            "fc1.w": x.T @ d1, "fc1.b": d1.sum(0)}


def main():
    rng = np.random.default_rng(7)
    x, labels = synthetic_batch(rng)
    weights = initial_weights(rng)
    inputs = dict(weights, x=x, labels=labels)

    losses, trained, reports = dojosim.train(GRAPH, optimizer="sgd:lr=0.1,momentum=0.9", steps=10,
                                             config=CONFIG, inputs=inputs)
    print("step  loss    cycles  backward  updates")
    for step, (loss, r) in enumerate(zip(losses, reports), 1):
        split = r["run"]["step"]  # the step's cycles by part (the command line's "training step")
        backward, updates = split["backward"]["cycles"], split["updates"]["cycles"]
        print("{:>4}  {:.4f}  {:>6}  {:>8}  {:>7}".format(step, loss, r["run"]["totals"]["cycles"],
                                                         backward, updates))
    grads, _ = dojosim.run_graph(GRAPH, config=CONFIG, inputs=inputs, backward=True)
    want = gradients_f64(weights, x, labels)
    worst = max(np.abs(grads["grad/" + k] - v).max() / np.abs(v).max() for k, v in want.items())
    print("step 1's gradients: at most {:.1e} of the largest from float64".format(worst))
    return 0 if worst < 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
