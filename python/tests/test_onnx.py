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
