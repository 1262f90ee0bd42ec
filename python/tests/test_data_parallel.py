# SPDX-License-Identifier: MIT
"""Data parallel (docs/graphs.md, "Data parallel"): a training step on four groups of nodes, each
with a quarter of the batch, gives the weights one group gives with the whole batch, within the
bound that the order of the sums allows."""
import numpy as np
import pytest
import torch

import dojosim
from dojosim import torch as dtorch
from conftest import TINY
from test_train import WithLoss

U = 2.0 ** -24  # fp32's unit roundoff


def mlp():
    torch.manual_seed(11)
    return torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
                               torch.nn.ReLU(), torch.nn.Linear(64, 10))


def magnitudes(body, x, labels):
    """Per parameter, in float64: the sum over the batch of the magnitudes of its gradient's terms
    (|dy|^T |a| for a linear layer's weight, the sum of |dy| for its bias): what any order of the
    gradient's fp32 sums is off by at most a small multiple of u times."""
    exact = WithLoss(body).double()
    acts, grads = {}, {}
    hooks = []
    for name, m in exact.body.named_modules():
        if isinstance(m, torch.nn.Linear):
            hooks.append(m.register_forward_hook(
                lambda mod, inp, out, name=name: acts.__setitem__(name, inp[0].detach())))
            hooks.append(m.register_full_backward_hook(
                lambda mod, gin, gout, name=name: grads.__setitem__(name, gout[0].detach())))
    exact(x.double(), labels).backward()
    for h in hooks:
        h.remove()
    out = {}
    for name in acts:
        a, dy = acts[name].abs().numpy(), grads[name].abs().numpy()
        out["body.{}.weight".format(name)] = dy.T @ a
        out["body.{}.bias".format(name)] = dy.sum(axis=0)
    return out


def test_four_groups_train_the_weights_of_one():
    body = mlp()
    model = WithLoss(body)
    x, labels = torch.randn(32, 32), torch.randint(0, 10, (32,))
    whole = dtorch.capture(model, (x, labels), dtype="fp32")
    quarter = dtorch.capture(model, (x[:8], labels[:8]), dtype="fp32")
    inputs = [t.name for t in quarter.tensors if t.role == "input"]
    assert len(inputs) == 2
    given = {name: v for name, v in zip(inputs, (x.numpy(), labels.numpy().astype(np.int32)))}
    lr = 0.1
    optimizer = "sgd:lr={},momentum=0.9".format(lr)
    one, one_report = dojosim.run_graph(whole, config=TINY, optimizer=optimizer)
    four, report = dojosim.run_graph(quarter, config=TINY, optimizer=optimizer, data_parallel=4,
                                     inputs=given)
    assert one_report["run"]["totals"]["checked"] is True
    totals = report["run"]["totals"]
    assert totals["checked"] is True and totals["groups"] == 4
    ops = {o["op"]: o for o in report["run"]["ops"]}
    assert all(ops[p + ".allreduce"]["type"] == "allreduce" for p in magnitudes(mlp(), x, labels))
    # The collectives table: each all-reduce's bytes (its fp32 gradient), time and bandwidths.
    collectives = {c["op"]: c for c in report["run"]["collectives"]}
    assert len(collectives) == 6
    w = collectives["body.2.weight.allreduce"]
    assert w["bytes"] == 64 * 64 * 4 and w["groups"] == 4
    assert w["cycles"] == ops["body.2.weight.allreduce"]["cycles"]
    seconds = w["cycles"] / (report["config"]["node"]["clock_ghz"] * 1e9)
    assert w["algbw_gb_s"] == pytest.approx(w["bytes"] / seconds / 1e9)
    assert w["busbw_gb_s"] == pytest.approx(w["algbw_gb_s"] * 2 * 3 / 4)

    # Each group's loss is its quarter's mean; their mean is the whole batch's.
    loss = [n for n in totals["varying_outputs"] if not n.startswith("next/")]
    assert len(loss) == 1 and four[loss[0]].shape[0] == 4
    assert abs(four[loss[0]].mean() - one[loss[0]].item()) <= 1e-5 * abs(one[loss[0]].item())

    # The updated weights (every group's, the same) against one group's: the gradients differ by
    # the order of their sums over the batch and the layers (at most a few times the depth of
    # the sums, u, the terms' magnitudes), the update by a rounding of w - lr v each.
    depth = 32 + 32 + 64 + 64 + 10
    m = magnitudes(mlp(), x, labels)
    differ = 0
    for name, mag in m.items():
        a, b = four["next/" + name], one["next/" + name]
        bound = lr * 4 * depth * U * mag + 2 * U * np.abs(b)
        assert np.all(np.abs(a - b) <= bound), "{}: {:.3g} past {:.3g}".format(
            name, np.abs(a - b).max(), bound.max())
        v_a, v_b = four["next/state/{}/velocity".format(name)], one[
            "next/state/{}/velocity".format(name)]
        assert np.all(np.abs(v_a - v_b) <= 4 * depth * U * mag + 2 * U * np.abs(v_b)), name
        differ += int(np.count_nonzero(a != b))
    # Four groups are not one group run again: the sums' order changes some bits.
    assert differ > 0


def test_a_count_that_does_not_divide_the_mesh_is_refused():
    body = mlp()
    x, labels = torch.randn(8, 32), torch.randint(0, 10, (8,))
    g = dtorch.capture(WithLoss(body), (x, labels), dtype="fp32")
    with pytest.raises(ValueError, match=r"data parallel over 3 groups: the 4x4 mesh does not "
                                         r"cut into 3 equal rectangles"):
        dojosim.run_graph(g, config=TINY, optimizer="sgd:lr=0.1", data_parallel=3)


def test_parallel_auto_runs_the_placement_it_estimates_best():
    """parallel="auto" plans every placement tiny's 16 nodes allow and runs the one with the
    most samples/s by estimate: the report lists them, the run's groups are the chosen one's,
    and the step's samples are a batch per replica."""
    body = mlp()
    x, labels = torch.randn(8, 32), torch.randint(0, 10, (8,))
    g = dtorch.capture(WithLoss(body), (x, labels), dtype="fp32")
    outputs, report = dojosim.run_graph(g, config=TINY, optimizer="sgd:lr=0.1", parallel="auto")
    table = report["parallel_choice"]
    chosen = [c for c in table if c["chosen"]]
    assert len(chosen) == 1 and len(table) >= 10
    assert chosen[0]["samples_per_s"] == max(c["samples_per_s"] for c in table)
    replicas = chosen[0]["data_parallel"]
    assert report["run"]["totals"]["groups"] == replicas * chosen[0]["tensor_parallel"]
    assert report["run"]["step"]["samples"] == 8 * replicas
    assert all(name in outputs for name in ("next/body.0.weight", "next/body.4.bias"))
    with pytest.raises(ValueError, match="give either, not both"):
        dojosim.run_graph(g, config=TINY, optimizer="sgd:lr=0.1", parallel="auto",
                          data_parallel=2)
