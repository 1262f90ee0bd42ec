# SPDX-License-Identifier: MIT
"""Training on the simulator: dojosim.run_graph(backward=..., optimizer=...) and dojosim.train,
steps whose weights and optimizer state feed the next, against the same steps in float64."""
import numpy as np
import pytest

import dojosim
import dojosim.graph
from conftest import TINY


def squared_norm():
    """loss = |x W|^2 as a [1, 1] matmul of y = x W with itself: its backward is matmuls only."""
    g = dojosim.graph.Graph("squared_norm")
    g.add_tensor("x", (1, 16), "fp32", "input")
    g.add_tensor("w", (16, 12), "fp32", "weight")
    g.add_tensor("y", (1, 12), "fp32")
    g.add_tensor("loss", (1, 1), "fp32")
    g.add_op("fc", "matmul", ["x", "w"], ["y"])
    g.add_op("norm", "matmul", ["y", "y"], ["loss"], {"transpose_b": True})
    return g


def test_backward_gives_every_weights_gradient():
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, (1, 16)).astype(np.float32)
    w = rng.uniform(-1, 1, (16, 12)).astype(np.float32)
    outputs, report = dojosim.run_graph(squared_norm(), config=TINY, backward=True,
                                        inputs={"x": x, "w": w, "grad_output": np.ones((1, 1))})
    assert report["run"]["totals"]["checked"] is True
    y = x.astype(np.float64) @ w
    want = 2 * x.T.astype(np.float64) @ y  # d|xW|^2 / dW
    assert np.abs(outputs["grad/w"] - want).max() <= 1e-5 * np.abs(want).max()


@pytest.mark.parametrize("optimizer", ["sgd:lr=0.01,momentum=0.5", "adamw:lr=0.01"])
def test_steps_lower_the_loss_and_equal_float64_steps(optimizer):
    rng = np.random.default_rng(5)
    x = rng.uniform(-1, 1, (1, 16)).astype(np.float32)
    w0 = rng.uniform(-1, 1, (16, 12)).astype(np.float32)
    losses, weights, reports = dojosim.train(
        squared_norm(), optimizer=optimizer, steps=5, config=TINY,
        inputs={"x": x, "w": w0, "grad_output": np.ones((1, 1), np.float32)})
    assert len(reports) == 5 and all(r["run"]["totals"]["checked"] for r in reports)
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    # The same five steps in float64 (PyTorch's SGD and AdamW).
    w, state = w0.astype(np.float64), [0.0, 0.0]
    want_losses = []
    for t in range(1, 6):
        y = x @ w
        want_losses.append(float(y @ y.T))
        g = 2 * x.T @ y
        if optimizer.startswith("sgd"):
            state[0] = 0.5 * state[0] + g
            w = w - 0.01 * state[0]
        else:
            state[0] = 0.9 * state[0] + 0.1 * g
            state[1] = 0.999 * state[1] + 0.001 * g * g
            step = state[0] / (1 - 0.9 ** t) / (np.sqrt(state[1] / (1 - 0.999 ** t)) + 1e-8)
            w = w * (1 - 0.01 * 0.01) - 0.01 * step
    assert np.allclose(losses, want_losses, rtol=1e-4)
    assert np.abs(weights["w"] - w).max() <= 1e-4 * max(1.0, np.abs(w).max())


def test_a_bad_optimizer_is_the_simulators_line():
    with pytest.raises(ValueError, match=r"--optimizer sgd: lr is required"):
        dojosim.run_graph(squared_norm(), config=TINY, optimizer="sgd")
