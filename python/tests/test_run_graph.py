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
