# SPDX-License-Identifier: MIT
"""Training on the simulator: dojosim.run_graph(backward=..., optimizer=...) and dojosim.train,
steps whose weights and optimizer state feed the next, against the same steps in float64."""
import copy

import numpy as np
import pytest
import torch

import dojosim
import dojosim.graph
from dojosim import torch as dtorch
from capture_models import GPT2Block
from conftest import D1, TINY


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


class WithLoss(torch.nn.Module):
    """A model and its cross-entropy: the graph's one output is the loss."""

    def __init__(self, body):
        super().__init__()
        self.body = body

    def forward(self, x, labels):
        return torch.nn.functional.cross_entropy(self.body(x), labels)


class TwoBlocks(torch.nn.Module):
    """A 2-layer transformer: two GPT-2 blocks and a linear head over every token."""

    def __init__(self):
        super().__init__()
        self.b1, self.b2 = GPT2Block(32, 4, 8), GPT2Block(32, 4, 8)
        self.head = torch.nn.Linear(32, 10)

    def forward(self, x):
        return self.head(self.b2(self.b1(x))).reshape(-1, 10)


def three_layer_mlp():
    return torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
                               torch.nn.ReLU(), torch.nn.Linear(64, 10)), (16, 32), 16


def small_cnn():
    """conv, batchnorm (inference form: running statistics), relu, pool, fc."""
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8),
                               torch.nn.ReLU(), torch.nn.MaxPool2d(2), torch.nn.Flatten(),
                               torch.nn.Linear(8 * 4 * 4, 10)), (8, 3, 8, 8), 8


def two_layer_transformer():
    return TwoBlocks(), (2, 8, 32), 16


def graph_layout(name, grad, graph):
    """A PyTorch gradient in the graph's layout: a convolution's weight is [R, S, C, K]."""
    want = graph.tensor(name).shape
    if grad.ndim == 4 and grad.shape != want:
        grad = grad.transpose(2, 3, 1, 0)
    assert grad.shape == want, name
    return grad


@pytest.mark.parametrize("make", [three_layer_mlp, small_cnn, two_layer_transformer])
def test_ten_steps_lower_the_loss_from_pytorchs_gradients(make):
    """Step 1's gradients are PyTorch's (float64) within 1e-5 of the largest; step 1's SGD update
    is w - lr grad; ten steps on one synthetic batch lower the loss, step after step. Every op of every step is
    bit-exact with the runtime's reference and within its float64 bound (the run's check)."""
    torch.manual_seed(3)
    body, shape, rows = make()
    model = WithLoss(body).eval()  # batchnorm with its running statistics
    x, labels = torch.randn(*shape), torch.randint(0, 10, (rows,))
    g = dtorch.capture(model, (x, labels), dtype="fp32")
    outputs, report = dojosim.run_graph(g, config=TINY, backward=True)
    assert report["run"]["totals"]["checked"] is True
    exact = WithLoss(copy.deepcopy(body).double()).eval()
    loss = exact(x.double(), labels)
    loss.backward()
    grads = {name: p.grad.numpy() for name, p in exact.named_parameters()}
    for name, want in grads.items():
        want = graph_layout(name, want, g)
        err = np.abs(outputs["grad/" + name] - want).max()
        assert err <= 1e-5 * np.abs(want).max(), "{}: {:.3g}".format(name, err)

    losses, weights, reports = dojosim.train(g, optimizer="sgd:lr=0.1,momentum=0.9", steps=10,
                                             config=TINY)
    assert all(r["run"]["totals"]["checked"] for r in reports)
    assert abs(losses[0] - loss.item()) <= 1e-5 * abs(loss.item())
    assert all(b < a for a, b in zip(losses, losses[1:])) and losses[-1] < 0.75 * losses[0], losses
    first, stepped, _ = dojosim.train(g, optimizer="sgd:lr=0.1,momentum=0.9", steps=1,
                                      config=TINY)
    for name, p in exact.named_parameters():
        w0 = graph_layout(name, p.detach().numpy(), g)
        want = w0 - 0.1 * graph_layout(name, grads[name], g)
        assert np.abs(stepped[name] - want).max() <= 1e-5 * max(1.0, np.abs(want).max()), name
    assert first[0] == losses[0]


def test_a_cnn_trains_with_batch_statistics():
    """The small CNN in training mode: its batchnorm normalises with the batch's statistics
    (batchnorm_train). Step 1's gradients are PyTorch's in train() mode (float64) within 1e-5 of
    the largest of all (the convolution's bias, which the batch's mean cancels, has a gradient
    of zero: its rounding noise is measured against the others), and ten steps lower the loss
    as PyTorch's ten SGD steps (float64) do."""
    torch.manual_seed(6)
    body, shape, rows = small_cnn()
    model = WithLoss(body).train()
    x, labels = torch.randn(*shape), torch.randint(0, 10, (rows,))
    g = dtorch.capture(model, (x, labels), train=True, backward=False, dtype="fp32")
    assert any(op.type == "batchnorm_train" for op in g.ops)
    outputs, report = dojosim.run_graph(g, config=TINY, backward=True)
    assert report["run"]["totals"]["checked"] is True
    exact = WithLoss(copy.deepcopy(body).double()).train()
    loss = exact(x.double(), labels)
    loss.backward()
    largest = max(np.abs(p.grad.numpy()).max() for p in exact.parameters())
    for name, p in exact.named_parameters():
        want = graph_layout(name, p.grad.numpy(), g)
        err = np.abs(outputs["grad/" + name] - want).max()
        assert err <= 1e-5 * largest, "{}: {:.3g}".format(name, err)
    losses, _, reports = dojosim.train(g, optimizer="sgd:lr=0.05,momentum=0.5", steps=10,
                                       config=TINY)
    assert all(r["run"]["totals"]["checked"] for r in reports)
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    reference = WithLoss(copy.deepcopy(body).double()).train()
    sgd = torch.optim.SGD(reference.parameters(), lr=0.05, momentum=0.5)
    want = []
    for _ in range(10):
        sgd.zero_grad()
        step_loss = reference(x.double(), labels)
        step_loss.backward()
        sgd.step()
        want.append(step_loss.item())
    assert np.allclose(losses, want, rtol=1e-4), (losses, want)


def test_bf16_weights_train_as_fp32_masters_and_a_loss_scale_changes_no_bit():
    """A bf16 capture trains: each step starts with the working copies of the fp32 master
    weights (stochastic rounding), updates the masters in fp32, and the loss falls; the masters
    keep what bf16 drops. A loss scale of 2^10 gives the same bits (scaling by a power of two
    is exact), so the scaled gradients are unscaled exactly."""
    torch.manual_seed(4)
    body, shape, rows = three_layer_mlp()
    model = WithLoss(body).eval()
    x, labels = torch.randn(*shape), torch.randint(0, 10, (rows,))
    g = dtorch.capture(model, (x, labels), dtype="bf16")
    losses, weights, reports = dojosim.train(g, optimizer="sgd:lr=0.1,momentum=0.9", steps=4,
                                             config=TINY)
    assert all(r["run"]["totals"]["checked"] for r in reports)
    assert all(b < a for a, b in zip(losses, losses[1:])), losses
    ops = [o["op"] for o in reports[0]["run"]["ops"]]
    assert ops[0] == "body.0.weight.working_copy" and "body.0.weight.unscale" in ops
    # Each working copy is made just before its layer, not at the step's start.
    assert ops.index("body.2.weight.working_copy") > ops.index("body.0.weight.working_copy") + 1
    w = weights["body.0.weight"]
    assert w.dtype == np.float32 and np.mean(w.view(np.uint32) & 0xFFFF != 0) > 0.5
    scaled, scaled_weights, _ = dojosim.train(g, optimizer="sgd:lr=0.1,momentum=0.9", steps=4,
                                              config=TINY, loss_scale=1024)
    assert scaled == losses
    assert all(scaled_weights[k].tobytes() == v.tobytes() for k, v in weights.items())


@pytest.mark.parametrize("make", ["resnet18", "resnet50"])
def test_resnet_gradients_on_d1_are_pytorchs(make):
    """torchvision's ResNet-18 and ResNet-50 (random weights, 10 classes) with their
    cross-entropy on two 32 x 32 images, fp32, batchnorm in inference form (running statistics,
    as in eval mode): the backward on a D1 die gives every parameter's gradient within 1e-5 of
    the largest of PyTorch's in float64, or within 4 times PyTorch's own fp32 error where that
    is larger, each op bit-exact with its reference. ResNet-18 meets 1e-5 (2.2e-6); ResNet-50
    at random initialisation does not even in PyTorch: its fp32 gradients are up to 7e-3 of the
    largest from its float64 ones (conv1's 2.6e-3), and ours are as close as that."""
    import torchvision
    torch.manual_seed(0)
    model = WithLoss(getattr(torchvision.models, make)(weights=None, num_classes=10)).eval()
    x, labels = torch.randn(2, 3, 32, 32), torch.randint(0, 10, (2,))
    g = dtorch.capture(model, (x, labels), dtype="fp32")
    outputs, report = dojosim.run_graph(g, config=D1, backward=True)
    assert report["run"]["totals"]["checked"] is True
    step = report["run"]["step"]
    assert step["backward"]["cycles"] > step["forward"]["cycles"] > 0
    exact, single = copy.deepcopy(model).double(), copy.deepcopy(model)
    exact(x.double(), labels).backward()
    single(x, labels).backward()
    for (name, p), (_, q) in zip(exact.named_parameters(), single.named_parameters()):
        want = graph_layout(name, p.grad.numpy(), g)
        err = np.abs(outputs["grad/" + name] - want).max()
        err32 = np.abs(graph_layout(name, q.grad.numpy(), g) - want).max()
        assert err <= max(1e-5 * np.abs(want).max(), 4 * err32), \
            "{}: {:.3g} (PyTorch fp32: {:.3g})".format(name, err, err32)


def train_mode_gradients(make, images, size, factor=4):
    """A torchvision model (random weights, 10 classes) in train() mode with its cross-entropy
    on `images` `size` x `size` images, fp32, captured with train=True (batchnorm_train: the
    batch's statistics) and run on a D1 die, each op bit-exact with its reference and within its
    float64 bound (the run's check). Every parameter's gradient against PyTorch's in float64
    (torch.autograd on the same weights and inputs, float64 copies): within 1e-5 of the largest,
    as in eval mode, or within `factor` times PyTorch's own fp32 error where that is larger.
    NOTE: training-mode batchnorm over few values per channel is ill-conditioned (two images of
    layer4's 1 x 1 pixels: x^ is +-1 whatever x is, and dx is a difference of nearly equal
    terms, amplified again by the next such layer), so no fp32 step meets 1e-5 there: at two
    32 x 32 images PyTorch's fp32 gradients are 1.8e-2 (ResNet-18) and 3.1 (ResNet-50) of the
    largest away from its float64 ones; ours 1.2e-2 and 5.2, at most 3.5 times PyTorch's (and
    a relative change of 1e-7 in x moves the float64 gradients by 2e-3 and 1.7 of the largest).
    Returns the run's host seconds and cycles."""
    import time
    torch.manual_seed(0)
    model = WithLoss(make(weights=None, num_classes=10)).train()
    x, labels = torch.randn(images, 3, size, size), torch.randint(0, 10, (images,))
    exact = copy.deepcopy(model).double()  # the capture's trace moves the running statistics
    single = copy.deepcopy(model)
    g = dtorch.capture(model, (x, labels), train=True, dtype="fp32")
    types = {op.type for op in g.ops}
    assert "batchnorm_train_backward" in types and "batchnorm" not in types
    start = time.perf_counter()
    outputs, report = dojosim.run_graph(g, config=D1)
    seconds = time.perf_counter() - start
    assert report["run"]["totals"]["checked"] is True
    exact(x.double(), labels).backward()
    single(x, labels).backward()
    worst, rel, wrong = 0.0, 0.0, []
    for (name, p), (_, q) in zip(exact.named_parameters(), single.named_parameters()):
        want = graph_layout(name, p.grad.numpy(), g)
        err = np.abs(outputs["grad/" + name] - want).max()
        err32 = np.abs(graph_layout(name, q.grad.numpy(), g) - want).max()
        rel = max(rel, err / np.abs(want).max())
        worst = max(worst, err / err32) if err32 > 0 else worst
        if not err <= max(1e-5 * np.abs(want).max(), factor * err32):
            wrong.append("{}: {:.3g} of {:.3g} (PyTorch fp32: {:.3g})".format(
                name, err, np.abs(want).max(), err32))
    cycles = report["run"]["totals"]["cycles"]
    print("{} {}x{}: {:.1f} s on the host, {} cycles; error at most {:.3g} of the largest, "
          "{:.2f} x PyTorch fp32's".format(make.__name__, images, size, seconds, cycles, rel,
                                           worst))
    assert not wrong, wrong
    return seconds, cycles


def test_resnet18_in_train_mode_gradients_on_d1_are_pytorchs():
    """ResNet-18 in train() mode on two 32 x 32 images, as the eval-mode test (batch statistics
    need two values or more): 20 s on the host, 1,739,888 cycles."""
    import torchvision
    train_mode_gradients(torchvision.models.resnet18, 2, 32)


def test_resnet50_in_train_mode_gradients_on_d1_are_pytorchs():
    """ResNet-50 in train() mode on two 32 x 32 images, the smallest input it takes in training
    (layer4's 1 x 1 pixels of two images: two values per channel): 64 s on the host, 3,930,917
    cycles."""
    import torchvision
    train_mode_gradients(torchvision.models.resnet50, 2, 32)
