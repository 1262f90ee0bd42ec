# SPDX-License-Identifier: MIT
"""dojosim.torch.capture: graphs the C++ validator accepts, forward results and one step's
gradients equal to PyTorch's within the stated bound (evaluated by dojosim.graph_numpy), and a
clear CaptureError for what has no graph op."""
import copy
import subprocess
import sys

import numpy as np
import pytest
import torch
import torchvision

import dojosim.graph
from dojosim import graph_numpy
from dojosim import torch as dtorch
from conftest import ROOT, TINY, cli
from capture_models import GPT2Block, cnn, mlp, square_mlp

# The evaluator computes in float32 (float64 for gradients) in its own order; PyTorch in float32
# in its order. Bound: max |error| <= 1e-5 x max |PyTorch's value| (fp32 summation orders of
# these sizes differ by far less; a wrong op or layout is off by order 1).
RTOL = 1e-5


def assert_close(got, want, what):
    want = np.asarray(want, dtype=np.float64)
    err = np.abs(np.asarray(got, dtype=np.float64) - want).max()
    assert err <= RTOL * max(1.0, np.abs(want).max()), "{}: error {:.3g} of {:.3g}".format(
        what, err, np.abs(want).max())


def forward_matches(model, inputs, graph):
    model.eval()
    with torch.no_grad():
        want = model(*inputs).numpy()
    assert_close(graph_numpy.evaluate(graph)["output"], want, "output")


def validates(graph, tmp_path, suffix="yaml"):
    """The C++ validator accepts the graph, written with its .npy data."""
    path = graph.save(tmp_path / "g.graph.{}".format(suffix))
    status, out, err = cli("run", "--config", TINY, "--workload", str(path), "--plan")
    assert status == 0, err
    return out


@pytest.fixture(autouse=True)
def seed():
    torch.manual_seed(17)


def test_mlp_forward(tmp_path):
    model, x = mlp(), torch.randn(8, 32)
    g = dtorch.capture(model, (x,))
    assert [op.type for op in g.ops] == ["matmul", "bias_add", "relu", "matmul", "bias_add"]
    assert g.outputs() == ["output"]
    assert g.tensor("0.weight").shape == (64, 32)  # PyTorch's layout, read with transpose_b
    assert g.ops[0].attributes == {"transpose_b": True}
    forward_matches(model, (x,), g)
    validates(g, tmp_path)
    validates(g, tmp_path, "json")


def test_small_cnn_is_channels_last_without_transposes(tmp_path):
    model, x = cnn(), torch.randn(2, 3, 16, 16)
    g = dtorch.capture(model, (x,))
    assert "transpose" not in [op.type for op in g.ops]
    assert g.tensor("input").shape == (2, 16, 16, 3)  # NHWC
    assert g.tensor("0.weight").shape == (3, 3, 3, 8)  # RSCK
    forward_matches(model, (x,), g)
    validates(g, tmp_path)


def test_resnet18_forward():
    model, x = torchvision.models.resnet18(weights=None), torch.randn(1, 3, 64, 64)
    g = dtorch.capture(model, (x,))
    types = [op.type for op in g.ops]
    assert types.count("conv2d") == 20 and types.count("batchnorm") == 20
    assert "transpose" not in types  # channels-last throughout
    forward_matches(model, (x,), g)
    assert "layer4.1.conv2/conv2d" in [op.name for op in g.ops]  # ops named by module path


def test_resnet50_at_224_validates(tmp_path):
    model = torchvision.models.resnet50(weights=None)
    g = dtorch.capture(model, (torch.randn(1, 3, 224, 224),), with_data=False)
    assert [op.type for op in g.ops].count("conv2d") == 53
    out = validates(g, tmp_path)
    assert "graph ResNet: 177 ops" in out


def test_resnet50_forward_small():
    model, x = torchvision.models.resnet50(weights=None), torch.randn(1, 3, 32, 32)
    forward_matches(model, (x,), dtorch.capture(model, (x,)))


def test_gpt2_block_forward(tmp_path):
    model, x = GPT2Block(), torch.randn(2, 16, 64)
    g = dtorch.capture(model, (x,))
    types = [op.type for op in g.ops]
    for t in ("layernorm", "batch_matmul", "softmax", "gelu", "split"):
        assert t in types
    assert [op.attributes for op in g.ops if op.type == "gelu"] == [{"approximate": "tanh"}]
    forward_matches(model, (x,), g)
    validates(g, tmp_path)


class MLPWithLoss(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.mlp = mlp()

    def forward(self, x, labels):
        return torch.nn.functional.cross_entropy(self.mlp(x), labels)


def test_cross_entropy_loss(tmp_path):
    model, x, labels = MLPWithLoss(), torch.randn(8, 32), torch.randint(0, 10, (8,))
    g = dtorch.capture(model, (x, labels))
    assert g.ops[-1].type == "softmax_cross_entropy"
    assert g.tensor("input.1").dtype == "int32"
    assert g.tensor("output").shape == ()
    forward_matches(model, (x, labels), g)
    validates(g, tmp_path)


def test_train_gradients_of_one_step(tmp_path):
    model, x = square_mlp(), torch.randn(4, 16)
    g = dtorch.capture(model, (x,), train=True)
    assert sorted(g.outputs()) == ["grad/0.weight", "grad/2.weight", "output"]
    assert g.tensor("grad/0.weight").role == "gradient"
    values = graph_numpy.evaluate(g, dtype=np.float64)
    y = model(x)
    y.backward(torch.ones_like(y))  # the capture seeds the backward with d(output) = 1
    for name, p in model.named_parameters():
        assert_close(values["grad/" + name], p.grad.numpy(), name)
    assert_close(values["output"], y.detach().numpy(), "output")
    assert "gradient" in validates(g, tmp_path)


def test_train_batchnorm_takes_the_batch_statistics():
    """Batchnorm in training mode is batchnorm_train (the batch's mean and variance; the running
    statistics PyTorch updates on the side are not in the graph), its backward
    batchnorm_train_backward; eval mode keeps the inference batchnorm."""
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4),
                                torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.Linear(144, 3))
    x = torch.randn(2, 3, 8, 8)
    exact = copy.deepcopy(model).double()
    g = dtorch.capture(model, (x,), train=True, dtype="fp32")
    types = [op.type for op in g.ops]
    assert "batchnorm_train" in types and "batchnorm_train_backward" in types
    assert "batchnorm" not in types
    assert not any("running" in t.name or "num_batches" in t.name for t in g.tensors)
    values = graph_numpy.evaluate(g, dtype=np.float64)
    y = exact(x.double())
    y.backward(torch.ones_like(y))
    for name, p in exact.named_parameters():
        want = p.grad.numpy()
        assert_close(values["grad/" + name],
                     want.transpose(2, 3, 1, 0) if want.ndim == 4 else want, name)
    assert_close(values["output"], y.detach().numpy(), "output")
    inference = dtorch.capture(model, (x,), dtype="fp32")
    assert "batchnorm" in [op.type for op in inference.ops]
    assert "batchnorm_train" not in [op.type for op in inference.ops]


def test_train_refuses_what_has_no_backward():
    """A model whose output no parameter reaches has nothing to train: the autodiff's one line,
    without the temporary file it read."""
    with pytest.raises(dtorch.CaptureError,
                       match=r"^the backward: no weight reaches the loss 'output': nothing to "
                             r"train$"):
        dtorch.capture(Doubled(), (torch.randn(2, 4),), train=True)


class Doubled(torch.nn.Module):
    def forward(self, x):
        return x * 2


class Tanh(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 4)
        self.act = torch.nn.Tanh()

    def forward(self, x):
        return self.act(self.fc(x))


class ValueControlFlow(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 4)

    def forward(self, x):
        return self.fc(x) if x.sum() > 0 else x


class DynamicShape(torch.nn.Module):
    def forward(self, x):
        return torch.nonzero(x)


def test_unsupported_op_names_op_and_module():
    with pytest.raises(dtorch.CaptureError,
                       match=r"^module 'act': aten\.tanh has no graph op in dojosim"):
        dtorch.capture(Tanh(), (torch.randn(2, 4),))


def test_untraceable_control_flow():
    with pytest.raises(dtorch.CaptureError, match=r"^the top-level module: torch.fx cannot trace "
                       r"it: .*control flow"):
        dtorch.capture(ValueControlFlow(), (torch.randn(2, 4),))


def test_dynamic_shape():
    with pytest.raises(dtorch.CaptureError, match=r"aten\.nonzero has a dynamic shape"):
        dtorch.capture(DynamicShape(), (torch.randn(2, 4),))


def test_saved_graph_reads_back_with_its_data(tmp_path):
    model, x = cnn(), torch.randn(1, 3, 8, 8)
    g = dtorch.capture(model, (x,), dtype="fp32")
    back = dojosim.graph.load(g.save(tmp_path / "cnn.graph.yaml"))
    assert [(t.name, t.shape, t.dtype, t.role) for t in back.tensors] == \
        [(t.name, t.shape, t.dtype, t.role) for t in g.tensors]
    assert [(o.name, o.type, o.inputs, o.outputs, o.attributes) for o in back.ops] == \
        [(o.name, o.type, o.inputs, o.outputs, o.attributes) for o in g.ops]
    assert np.array_equal(back.tensor("0.weight").data, g.tensor("0.weight").data)
    assert (tmp_path / "cnn.data" / "0.weight.npy").exists()
    forward_matches(model, (x,), back)


def test_bad_npy_data_is_refused(tmp_path):
    g = dtorch.capture(mlp(), (torch.randn(2, 32),))
    path = g.save(tmp_path / "m.graph.yaml")
    np.save(tmp_path / "m.data" / "0.weight.npy", np.zeros((3, 3), np.float32))
    with pytest.raises(dojosim.graph.GraphDataError,
                       match=r"tensor '0.weight': .*0.weight.npy has shape \[3, 3\]; the tensor "
                       r"is \[64, 32\]"):
        dojosim.graph.load(path)
    (tmp_path / "m.data" / "0.weight.npy").write_text("not numpy")
    with pytest.raises(dojosim.graph.GraphDataError, match=r"is not a .npy file numpy reads"):
        dojosim.graph.load(path)
    (tmp_path / "m.data" / "0.weight.npy").unlink()
    with pytest.raises(dojosim.graph.GraphDataError, match=r"does not exist"):
        dojosim.graph.load(path)


def run_capture_cli(*args):
    return subprocess.run([sys.executable, "-m", "dojosim.capture", *args], capture_output=True,
                          text=True, cwd=str(ROOT / "python" / "tests"))


def test_capture_command_line(tmp_path):
    out = tmp_path / "mlp.graph.yaml"
    done = run_capture_cli("capture_models:mlp", "--input-shape", "4,32", "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("dojosim.capture: 5 ops, 10 tensors -> ")
    assert (tmp_path / "mlp.data" / "input.npy").exists()
    status, _, err = cli("run", "--config", TINY, "--workload", str(out), "--plan")
    assert status == 0, err
    done = run_capture_cli("capture_models:mlp", "-o", str(out))
    assert (done.returncode, done.stderr) == (2, "dojosim.capture: give --input-shape (e.g. "
                                              "1,3,224,224) for the example input\n")


def test_capture_factory_errors():
    from dojosim import capture
    with pytest.raises(ValueError, match=r"^torchvision.models:no_such_model: module "
                       r"'torchvision.models' has no 'no_such_model'$"):
        capture._factory("torchvision.models:no_such_model")
    with pytest.raises(ValueError, match=r"expected MODULE:FACTORY"):
        capture._factory("resnet18")
    assert isinstance(capture._factory("torchvision.models:resnet18"), torch.nn.Module)
