# SPDX-License-Identifier: MIT
"""dojosim.onnx.import_onnx: models exported by torch.onnx.export give the results of their
PyTorch capture (both evaluated by dojosim.graph_numpy); refusals name the ONNX op and node."""
import io

import numpy as np
import onnx
import pytest
import torch

from dojosim import graph_numpy
from dojosim import onnx as donnx
from dojosim import torch as dtorch
from conftest import TINY, cli
from capture_models import cnn, mlp


def exported(model, x, **kwargs):
    f = io.BytesIO()
    torch.onnx.export(model.eval(), (x,), f, input_names=["x"], output_names=["y"], **kwargs)
    return onnx.load_from_string(f.getvalue())


@pytest.mark.parametrize("make, shape", [(mlp, (8, 32)), (cnn, (2, 3, 16, 16))])
def test_import_gives_the_results_of_the_capture(make, shape, tmp_path):
    torch.manual_seed(5)
    model, x = make().eval(), torch.randn(*shape)
    g = donnx.import_onnx(exported(model, x), inputs={"x": x.numpy()})
    from_onnx = graph_numpy.evaluate(g)["output"]
    from_capture = graph_numpy.evaluate(dtorch.capture(model, (x,)))["output"]
    # The same ops on the same values in the same order, except the batchnorm that the export
    # folds into the convolution's weights: equal within float32 rounding.
    err = np.abs(from_onnx - from_capture).max()
    assert err <= 1e-5 * max(1.0, np.abs(from_capture).max()), err
    path = g.save(tmp_path / "m.graph.yaml")
    status, _, stderr = cli("run", "--config", TINY, "--workload", str(path), "--plan")
    assert status == 0, stderr


def test_import_without_values_declares_the_input():
    x = torch.randn(4, 32)
    g = donnx.import_onnx(exported(mlp(), x))
    assert g.tensor("x").data is None and g.tensor("x").role == "input"
    with pytest.raises(graph_numpy.EvaluationError, match=r"tensor 'x' \(input\) has no values"):
        graph_numpy.evaluate(g)


class Tanh(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = torch.nn.Linear(4, 4)

    def forward(self, x):
        return torch.tanh(self.fc(x))


def test_unsupported_op_names_op_and_node():
    with pytest.raises(donnx.CaptureError, match=r"^node 'Tanh': ONNX op Tanh has no graph op"):
        donnx.import_onnx(exported(Tanh(), torch.randn(2, 4)))


def test_dynamic_shapes_are_refused():
    m = exported(mlp(), torch.randn(4, 32), dynamic_axes={"x": {0: "batch"}})
    with pytest.raises(donnx.CaptureError, match=r"^input 'x': dimension 'batch' is not a number "
                       r"\(a dynamic shape\)"):
        donnx.import_onnx(m)


def test_input_values_of_the_wrong_shape_are_refused():
    with pytest.raises(donnx.CaptureError, match=r"input 'x': values of shape \[2, 32\]; the "
                       r"model's input is \[4, 32\]"):
        donnx.import_onnx(exported(mlp(), torch.randn(4, 32)), inputs={"x": np.zeros((2, 32))})


def test_capture_command_line_imports_onnx(tmp_path):
    import subprocess
    import sys
    onnx.save(exported(cnn(), torch.randn(1, 3, 8, 8)), str(tmp_path / "cnn.onnx"))
    out = tmp_path / "cnn.graph.json"
    done = subprocess.run([sys.executable, "-m", "dojosim.capture", str(tmp_path / "cnn.onnx"),
                           "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    status, _, err = cli("run", "--config", TINY, "--workload", str(out), "--plan")
    assert status == 0, err
    onnx.save(exported(Tanh(), torch.randn(2, 4)), str(tmp_path / "tanh.onnx"))
    done = subprocess.run([sys.executable, "-m", "dojosim.capture", str(tmp_path / "tanh.onnx"),
                           "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("dojosim.capture: node 'Tanh': ONNX op Tanh has no graph op")
    assert done.stderr.count("\n") == 1


def batchnorm_node_model(training_mode, running_outputs=False):
    """One BatchNormalization over x [2, 4, 3, 3] (opset 15), optionally in training mode."""
    from onnx import helper, numpy_helper
    rng = np.random.default_rng(2)
    inits = [numpy_helper.from_array(rng.uniform(0.5, 2, 4).astype(np.float32), n)
             for n in ("scale", "bias", "mean", "var")]
    outs = ["y", "running_mean", "running_var"] if running_outputs else ["y"]
    node = helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], outs,
                            epsilon=1e-3, training_mode=training_mode)
    graph_outputs = [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None)
                     for n in outs]
    graph = helper.make_graph(
        [node], "bn", [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 4, 3, 3])],
        graph_outputs, inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 15)]), inits


def test_batchnormalization_in_training_mode_takes_the_batch_statistics():
    model, inits = batchnorm_node_model(1)
    x = np.random.default_rng(3).standard_normal((2, 4, 3, 3)).astype(np.float32)
    g = donnx.import_onnx(model, inputs={"x": x})
    assert [op.type for op in g.ops if op.type.startswith("batchnorm")] == ["batchnorm_train"]
    scale, bias = (onnx.numpy_helper.to_array(t) for t in inits[:2])
    mean = x.mean(axis=(0, 2, 3), keepdims=True)
    var = x.var(axis=(0, 2, 3), keepdims=True)
    want = (x - mean) / np.sqrt(var + 1e-3) * scale[:, None, None] + bias[:, None, None]
    got = graph_numpy.evaluate(g)["output"]
    assert np.abs(got - want).max() <= 1e-5 * np.abs(want).max()
    eval_mode = donnx.import_onnx(batchnorm_node_model(0)[0], inputs={"x": x})
    assert "batchnorm" in [op.type for op in eval_mode.ops]
    with pytest.raises(donnx.CaptureError, match=r"'running_mean'"):
        donnx.import_onnx(batchnorm_node_model(1, running_outputs=True)[0], inputs={"x": x})
