# SPDX-License-Identifier: MIT
"""dojosim.run_graph: a graph file or a captured model runs on the simulator in one machine run;
the report is the command line's; captured models give PyTorch's outputs within the bf16 bound;
bad graphs and inputs raise with the simulator's one-line message."""
import json

import numpy as np
import pytest
import torch

import dojosim
import dojosim.graph
from dojosim import torch as dtorch
from conftest import ROOT, TINY, cli
from capture_models import GPT2Block, cnn, mlp

GRAPH = ROOT / "examples" / "06-graph" / "mlp_block.graph.yaml"


def runs_like_pytorch(model, inputs, config=TINY):
    model.eval()
    with torch.no_grad():
        want = model(*inputs).numpy()
    g = dtorch.capture(model, inputs)
    outputs, report = dojosim.run_graph(g, config=config)
    got = outputs["output"]
    assert got.shape == want.shape and got.dtype == np.float32
    err = float(np.abs(got.astype(np.float64) - want).max())
    bound = dojosim.graph.bf16_bound(g, want)
    assert err <= bound, "error {:.3g}, bound {:.3g}".format(err, bound)
    assert report["run"]["totals"]["checked"] is True  # every op bit-exact with its reference
    return report


@pytest.fixture(autouse=True)
def seed():
    torch.manual_seed(17)


def test_graph_file_report_is_the_command_lines(tmp_path):
    outputs, report = dojosim.run_graph(GRAPH, config=TINY)
    assert list(outputs) == ["out"] and outputs["out"].shape == (64, 128)
    status, _, err = cli("run", "--config", TINY, "--workload", str(GRAPH), "--json",
                         str(tmp_path / "run.json"), "--save", str(tmp_path))
    assert status == 0, err
    on_cli = json.loads((tmp_path / "run.json").read_text())
    assert report["run"]["totals"] == on_cli["run"]["totals"]
    assert [o["op"] for o in report["run"]["ops"]] == ["ln", "up", "up.bias", "act", "down",
                                                        "residual"]
    assert np.array_equal(outputs["out"].view(np.uint32),
                          np.load(tmp_path / "out.npy").view(np.uint32))


def test_inputs_replace_the_graphs_data():
    x = np.zeros((64, 128), np.float32)
    gamma, beta = np.zeros(128, np.float32), np.full(128, 0.5, np.float32)
    outputs, _ = dojosim.run_graph(GRAPH, config=TINY,
                                   inputs={"x": x, "ln.gamma": gamma, "ln.beta": beta})
    # x = 0 and layernorm's output = beta everywhere: every row of `out` is the same.
    assert np.array_equal(outputs["out"], np.broadcast_to(outputs["out"][0], (64, 128)))


def test_mlp_matches_pytorch():
    runs_like_pytorch(mlp(), (torch.randn(8, 32),))


def test_small_cnn_matches_pytorch():
    runs_like_pytorch(cnn(), (torch.randn(2, 3, 8, 8),))


def test_gpt2_style_block_matches_pytorch():
    report = runs_like_pytorch(GPT2Block(d_model=64, heads=4, seq=16), (torch.randn(1, 16, 64),))
    assert {o["type"] for o in report["run"]["ops"]} >= {"layernorm", "softmax", "gelu",
                                                        "batch_matmul"}


def test_bad_input_and_bad_graph_raise_with_the_message(tmp_path):
    with pytest.raises(ValueError, match=r"--inputs x=.*: .*has shape \[3\].*"):
        dojosim.run_graph(GRAPH, config=TINY, inputs={"x": np.zeros(3, np.float32)})
    with pytest.raises(ValueError, match="no input or weight tensor 'nope'"):
        dojosim.run_graph(GRAPH, config=TINY, inputs={"nope": np.zeros(3, np.float32)})
    bad = tmp_path / "bad.graph.yaml"
    bad.write_text(GRAPH.read_text().replace("type: relu", "type: relux"))
    with pytest.raises(ValueError, match="relux"):
        dojosim.run_graph(bad, config=TINY)
    with pytest.raises(ValueError, match="missing.graph.yaml"):
        dojosim.run_graph(tmp_path / "missing.graph.yaml", config=TINY)


def test_one_training_step_gives_pytorchs_gradients():
    """train=True: the forward and the backward of one step (matmuls with transposed operands,
    mul, add) on the machine; the gradients within the bf16 bound of PyTorch's."""
    from capture_models import square_mlp
    model, x = square_mlp(), torch.randn(4, 16)
    g = dtorch.capture(model, (x,), train=True)
    outputs, report = dojosim.run_graph(g, config=TINY)
    assert report["run"]["totals"]["checked"] is True
    y = model(x)
    y.backward(torch.ones_like(y))  # the capture seeds the backward with d(output) = 1
    for name, p in model.named_parameters():
        want = p.grad.numpy()
        got = outputs["grad/" + name]
        assert got.shape == want.shape
        err, bound = np.abs(got - want).max(), dojosim.graph.bf16_bound(g, want)
        assert err <= bound, "{}: error {:.3g}, bound {:.3g}".format(name, err, bound)


@pytest.mark.parametrize("make, shape", [("mlp", (8, 32)), ("cnn", (2, 3, 8, 8))])
def test_onnx_import_runs_like_its_capture(make, shape):
    """An ONNX export of the same model runs on the machine with its capture's results: the
    same ops bit for bit (the MLP); within the bf16 bound where the export folds batchnorm into
    the convolution (the CNN)."""
    import io
    import onnx
    import capture_models
    from dojosim import onnx as donnx
    model, x = getattr(capture_models, make)().eval(), torch.randn(*shape)
    f = io.BytesIO()
    torch.onnx.export(model, (x,), f, input_names=["x"], output_names=["y"])
    from_onnx = donnx.import_onnx(onnx.load_from_string(f.getvalue()), inputs={"x": x.numpy()})
    captured = dtorch.capture(model, (x,))
    got, _ = dojosim.run_graph(from_onnx, config=TINY)
    want, _ = dojosim.run_graph(captured, config=TINY)
    if make == "mlp":
        assert np.array_equal(got["output"].view(np.uint32), want["output"].view(np.uint32))
    else:
        err = np.abs(got["output"] - want["output"]).max()
        assert err <= dojosim.graph.bf16_bound(captured, want["output"]), err


def test_resnet50_runs_on_d1_like_pytorch():
    import torchvision
    report = runs_like_pytorch(torchvision.models.resnet50(weights=None),
                               (torch.randn(1, 3, 32, 32),), config=str(ROOT / "configs" / "d1.yaml"))
    assert len(report["run"]["ops"]) > 150


def test_config_overrides_reach_the_run():
    _, wide = dojosim.run_graph(GRAPH, config=TINY)
    _, narrow = dojosim.run_graph(GRAPH, config=dojosim.load_config(TINY),
                                  set={"noc.link_bytes_per_cycle": 8})
    assert narrow["config"]["noc"]["link_bytes_per_cycle"] == 8
    assert narrow["run"]["totals"]["cycles"] > wide["run"]["totals"]["cycles"]
