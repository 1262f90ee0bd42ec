# SPDX-License-Identifier: MIT
"""capture(train=True, backward="aten"): PyTorch's own backward, traced by make_fx with the
forward (torch.autograd.grad in the traced function), every aten op lowered to graph ops. Its
gradients against the default capture's (the simulator's autodiff) and PyTorch's in float64."""
import copy
import time

import numpy as np
import pytest
import torch

import dojosim
import dojosim.graph
from dojosim import torch as dtorch
from capture_models import cnn
from conftest import D1, TINY
from test_capture import run_capture_cli
from test_train import (WithLoss, graph_layout, small_cnn, three_layer_mlp,
                        two_layer_transformer)


def gradients(g, config):
    """grad/NAME of one run of g, each op bit-exact with its reference (the run's check)."""
    outputs, report = dojosim.run_graph(g, config=config)
    assert report["run"]["totals"]["checked"] is True
    return {k[len("grad/"):]: v for k, v in outputs.items() if k.startswith("grad/")}


def pooled_cnn():
    """conv, batchnorm, relu, max pool, a strided conv, the mean over 4 x 4 pixels, fc."""
    return cnn(), (4, 3, 16, 16), 4


class FrozenBatchNorm(torch.nn.BatchNorm2d):
    """A batchnorm that stays in eval mode (running statistics) when its model trains."""

    def train(self, mode=True):
        return super().train(False)


def frozen_bn_cnn():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), FrozenBatchNorm(8),
                               torch.nn.ReLU(), torch.nn.Flatten(),
                               torch.nn.Linear(8 * 8 * 8, 10)), (4, 3, 8, 8), 4


# Each model, its mode, and backward ops its traced backward must have (with the forward module
# each is named after, for some).
MODELS = {
    "mlp": (three_layer_mlp, "eval", {"softmax_cross_entropy_backward", "relu_backward",
                                      "body.4/matmul.grad", "body.3/relu_backward.grad"}),
    "cnn": (small_cnn, "train", {"conv2d_grad_weight", "max_pool_backward",
                                 "body.1/batchnorm_train_backward.grad"}),
    "frozen_bn_cnn": (frozen_bn_cnn, "train", {"batchnorm_backward",
                                               "body.1/batchnorm_backward.grad"}),
    "pooled_cnn": (pooled_cnn, "train", {"conv2d_grad_input", "global_avg_pool_backward",
                                         "body.6/global_avg_pool_backward.grad"}),
    "transformer": (two_layer_transformer, "eval", {
        "layernorm_backward", "softmax_backward", "gelu_backward", "batch_matmul", "concat",
        "body.b1.ln_1/layernorm_backward.grad"}),
}


@pytest.mark.parametrize("model", list(MODELS))
def test_traced_backward_gives_the_autodiffs_and_pytorchs_gradients(model):
    """The 3-layer MLP, the small CNN in train() mode (batchnorm_train and its backward, max
    pool), a CNN whose batchnorm stays in eval mode (batchnorm_backward), a CNN with a mean over H and W (its backward: expand, then a division) and a 2-block
    GPT-2-style transformer, each with its cross-entropy: every parameter's gradient grad/NAME,
    in the parameter's graph layout, within 1e-5 of the largest of the default capture's and of
    PyTorch's in float64 (a conv bias whose batchnorm's batch mean cancels it has a gradient of
    zero: measured against the largest of all, as test_train does). The backward is PyTorch's,
    not the autodiff's (no grad_output, its ops named after the forward module)."""
    make, mode, backward_ops = MODELS[model]
    torch.manual_seed(3)
    body, shape, rows = make()
    model = WithLoss(body).train(mode == "train")
    x, labels = torch.randn(*shape), torch.randint(0, 10, (rows,))
    exact = WithLoss(copy.deepcopy(body).double()).train(mode == "train")
    aten = dtorch.capture(copy.deepcopy(model), (x, labels), train=True, backward="aten",
                          dtype="fp32")
    default = dtorch.capture(copy.deepcopy(model), (x, labels), train=True, dtype="fp32")
    assert backward_ops <= {op.type for op in aten.ops} | {op.name for op in aten.ops}
    assert {t.name for t in aten.tensors if t.role == "gradient"} == \
        {"grad/" + n for n, _ in model.named_parameters()}
    ours, theirs = gradients(aten, TINY), gradients(default, TINY)
    exact(x.double(), labels).backward()
    largest = max(np.abs(p.grad.numpy()).max() for p in exact.parameters())
    for name, p in exact.named_parameters():
        want = graph_layout(name, p.grad.numpy(), aten)
        assert aten.tensor("grad/" + name).shape == default.tensor("grad/" + name).shape
        for other, what in ((want, "float64"), (theirs[name], "autodiff")):
            err = np.abs(ours[name] - other).max()
            assert err <= 1e-5 * largest, "{} against {}: {:.3g}".format(name, what, err)


class Crop(torch.nn.Module):
    def forward(self, x):
        return x[:, :16]


def test_a_backward_op_with_no_graph_op_names_the_aten_op_and_the_module():
    """x[:, :16] maps forward (a split), but its backward aten.slice_backward does not."""
    model = WithLoss(torch.nn.Sequential(torch.nn.Linear(8, 32), Crop(), torch.nn.Linear(16, 4)))
    x, labels = torch.randn(4, 8), torch.randint(0, 4, (4,))
    with pytest.raises(dtorch.CaptureError,
                       match=r"^the backward of module 'body\.1': aten\.slice_backward has no "
                       r"graph op"):
        dtorch.capture(model, (x, labels), train=True, backward="aten")
    with pytest.raises(ValueError, match=r"backward='autograd': expected True"):
        dtorch.capture(model, (x, labels), train=True, backward="autograd")


def test_a_traced_backward_is_not_differentiated_again():
    """dojosim.train appends the autodiff's backward: a graph that holds one already (PyTorch's,
    or the default capture's) is refused, before the simulator would find several outputs and
    no loss."""
    body, shape, rows = three_layer_mlp()
    g = dtorch.capture(WithLoss(body), (torch.randn(*shape), torch.randint(0, 10, (rows,))),
                       train=True, backward="aten", dtype="fp32")
    with pytest.raises(ValueError, match=r"^graph 'WithLoss' holds its backward already "
                       r"\(grad/body\.4\.weight, \.\.\.\); run it as it is, or train a capture "
                       r"with train=True, backward=False \(the forward\)$"):
        dojosim.train(g, optimizer="sgd:lr=0.1", steps=1, config=TINY)


def test_capture_command_line_traces_the_backward(tmp_path):
    """python3 -m dojosim.capture --train --backward aten: the traced backward's graph, which
    the simulator runs as it is (no grad_output: the seed is the trace's constant ones)."""
    out = tmp_path / "square.graph.yaml"
    done = run_capture_cli("capture_models:square_mlp", "--input-shape", "4,16", "--train",
                           "--backward", "aten", "--dtype", "fp32", "-o", str(out))
    assert done.returncode == 0, done.stderr
    g = dojosim.graph.load(out)
    assert {"grad/0.weight", "grad/2.weight"} <= {t.name for t in g.tensors}
    assert not g.has_tensor("grad_output")
    assert gradients(g, TINY).keys() == {"0.weight", "2.weight"}
    done = run_capture_cli("capture_models:square_mlp", "--input-shape", "4,16", "--backward",
                           "aten", "-o", str(out))
    assert (done.returncode, done.stderr) == (2, "dojosim.capture: --backward aten is the "
                                              "backward of --train; give --train\n")


def test_resnet18_traced_backward_on_d1():
    """torchvision's ResNet-18 in train() mode (two 32 x 32 images, fp32) with its
    cross-entropy: the traced backward (convolution_backward, native_batch_norm_backward,
    threshold_backward, max pool's, the mean's expand and division, the residual adds) on a D1
    die, each op bit-exact. Gradients within 1e-5 of the largest of the default capture's (the
    same ops, so the same rounding but for the order of the residuals' sums and the mean's
    division) and against PyTorch's float64 as test_train.train_mode_gradients bounds them
    (training-mode batchnorm over two values per channel is ill-conditioned: its docstring)."""
    import torchvision
    torch.manual_seed(0)
    model = WithLoss(torchvision.models.resnet18(weights=None, num_classes=10)).train()
    x, labels = torch.randn(2, 3, 32, 32), torch.randint(0, 10, (2,))
    exact, single = copy.deepcopy(model).double(), copy.deepcopy(model)
    aten = dtorch.capture(copy.deepcopy(model), (x, labels), train=True, backward="aten",
                          dtype="fp32")
    default = dtorch.capture(copy.deepcopy(model), (x, labels), train=True, dtype="fp32")
    start = time.perf_counter()
    ours = gradients(aten, D1)
    print("resnet18 traced backward: {:.1f} s on the host".format(time.perf_counter() - start))
    theirs = gradients(default, D1)
    exact(x.double(), labels).backward()
    single(x, labels).backward()
    wrong = []
    for (name, p), (_, q) in zip(exact.named_parameters(), single.named_parameters()):
        want = graph_layout(name, p.grad.numpy(), aten)
        err = np.abs(ours[name] - want).max()
        err32 = np.abs(graph_layout(name, q.grad.numpy(), aten) - want).max()
        if not err <= max(1e-5 * np.abs(want).max(), 4 * err32):
            wrong.append("{}: {:.3g} of {:.3g} (PyTorch fp32: {:.3g})".format(
                name, err, np.abs(want).max(), err32))
        scale = max(np.abs(theirs[name]).max(), 1e-30)
        if not np.abs(ours[name] - theirs[name]).max() <= 1e-5 * scale:
            wrong.append("{} against autodiff: {:.3g} of {:.3g}".format(
                name, np.abs(ours[name] - theirs[name]).max(), scale))
    assert not wrong, wrong
