# SPDX-License-Identifier: MIT
"""Tensor parallel (docs/graphs.md, "Tensor parallel"): a training step with its pairs of linear
layers split over two and four groups of nodes gives the weights one group gives, within the
bound that the order of the sums allows."""
import numpy as np
import pytest
import torch

import dojosim
from dojosim import torch as dtorch
from conftest import TINY
from test_data_parallel import U, magnitudes
from test_train import WithLoss, two_layer_transformer


def mlp():
    # Two pairs (32 -> 64 -> 64, 64 -> 64 -> 64) and a last layer whole in every group; the
    # second pair's input takes a gradient, summed over the groups' parts.
    torch.manual_seed(12)
    return torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 64),
                               torch.nn.ReLU(), torch.nn.Linear(64, 64), torch.nn.GELU(),
                               torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))


def assert_weights_of_one_group(split, one, x, labels, lr):
    """Every updated weight of the split run against one group's: the gradients differ by the
    order of their sums (at most a few times the depth of the sums, u, the terms' magnitudes),
    the update by a rounding of w - lr v; some bits do differ (it is not one group run again)."""
    depth = 32 + 32 + 64 + 64 + 64 + 64 + 10
    differ = 0
    for name, mag in magnitudes(mlp(), x, labels).items():
        a, b = split["next/" + name], one["next/" + name]
        assert a.shape == b.shape
        bound = lr * 4 * depth * U * mag + 2 * U * np.abs(b)
        assert np.all(np.abs(a - b) <= bound), "{}: {:.3g} past {:.3g}".format(
            name, np.abs(a - b).max(), bound.max())
        differ += int(np.count_nonzero(a != b))
    assert differ > 0


@pytest.mark.parametrize("groups", [2, 4])
def test_split_layers_train_the_weights_of_one_group(groups):
    x, labels = torch.randn(32, 32), torch.randint(0, 10, (32,))
    g = dtorch.capture(WithLoss(mlp()), (x, labels), dtype="fp32")
    lr = 0.1
    optimizer = "sgd:lr={},momentum=0.9".format(lr)
    one, one_report = dojosim.run_graph(g, config=TINY, optimizer=optimizer)
    split, report = dojosim.run_graph(g, config=TINY, optimizer=optimizer,
                                      tensor_parallel=groups)
    assert one_report["run"]["totals"]["checked"] is True
    totals = report["run"]["totals"]
    assert totals["checked"] is True and totals["groups"] == groups
    assert totals["parallel"] == "tensor" and totals["varying_outputs"] == []
    ops = [o for o in report["run"]["ops"] if o["type"] == "allreduce"]
    # Each pair's partial product forward, the second pair's input gradient backward.
    assert len(ops) == 3, [o["op"] for o in ops]
    loss = [n for n in one if not n.startswith("next/")]
    assert len(loss) == 1
    assert abs(split[loss[0]].item() - one[loss[0]].item()) <= 1e-5 * abs(one[loss[0]].item())

    assert_weights_of_one_group(split, one, x, labels, lr)


def test_a_width_the_groups_do_not_divide_is_refused():
    torch.manual_seed(13)
    body = torch.nn.Sequential(torch.nn.Linear(8, 6), torch.nn.ReLU(), torch.nn.Linear(6, 4))
    x, labels = torch.randn(8, 8), torch.randint(0, 4, (8,))
    g = dtorch.capture(WithLoss(body), (x, labels), dtype="fp32")
    with pytest.raises(ValueError, match=r"tensor parallel over 4 groups: weight '.*' has 6 "
                                         r"output rows \(transpose_b\), which do not split "
                                         r"into 4 equal parts"):
        dojosim.run_graph(g, config=TINY, optimizer="sgd:lr=0.1", tensor_parallel=4)


def test_a_graph_without_a_pair_is_refused():
    torch.manual_seed(14)
    body = torch.nn.Sequential(torch.nn.Linear(8, 4))
    x, labels = torch.randn(8, 8), torch.randint(0, 4, (8,))
    g = dtorch.capture(WithLoss(body), (x, labels), dtype="fp32")
    with pytest.raises(ValueError, match=r"tensor parallel over 2 groups: no pair of linear "
                                         r"layers to split"):
        dojosim.run_graph(g, config=TINY, optimizer="sgd:lr=0.1", tensor_parallel=2)


def test_a_transformer_splits_its_mlps():
    """Two GPT-2 blocks: each block's MLP (fc, gelu, proj) is a pair; attention and the head stay
    whole. The step's weights are one group's within a few ulps of their largest."""
    torch.manual_seed(15)
    body, shape, rows = two_layer_transformer()
    x, labels = torch.randn(*shape), torch.randint(0, 10, (rows,))
    g = dtorch.capture(WithLoss(body), (x, labels), dtype="fp32")
    optimizer = "sgd:lr=0.1,momentum=0.9"
    one, _ = dojosim.run_graph(g, config=TINY, optimizer=optimizer)
    split, report = dojosim.run_graph(g, config=TINY, optimizer=optimizer, tensor_parallel=2)
    assert report["run"]["totals"]["checked"] is True
    sums = [o["op"] for o in report["run"]["ops"] if o["type"] == "allreduce"]
    assert len(sums) == 4, sums  # per block: the MLP's partial products, its input's gradient
    weights = [n for n in one if n.startswith("next/") and "/state/" not in n]
    assert len(weights) == len([t for t in g.tensors if t.role == "weight"])
    for name in weights:
        a, b = split[name], one[name]
        assert np.abs(a - b).max() <= 1e-5 * max(1.0, np.abs(b).max()), name


def test_two_replicas_of_two_split_groups_train_the_weights_of_one_group():
    """Data parallel over tensor-parallel groups: two replicas, each with half the batch, each of
    two groups holding half of every pair; gradients summed over the groups that hold the same
    part."""
    x, labels = torch.randn(32, 32), torch.randint(0, 10, (32,))
    model = WithLoss(mlp())
    whole = dtorch.capture(model, (x, labels), dtype="fp32")
    half = dtorch.capture(model, (x[:16], labels[:16]), dtype="fp32")
    inputs = [t.name for t in half.tensors if t.role == "input"]
    given = {name: v for name, v in zip(inputs, (x.numpy(), labels.numpy().astype(np.int32)))}
    lr = 0.1
    optimizer = "sgd:lr={},momentum=0.9".format(lr)
    one, _ = dojosim.run_graph(whole, config=TINY, optimizer=optimizer)
    four, report = dojosim.run_graph(half, config=TINY, optimizer=optimizer, data_parallel=2,
                                     tensor_parallel=2, inputs=given)
    totals = report["run"]["totals"]
    assert totals["checked"] is True and totals["groups"] == 4
    assert totals["parallel"] == "data+tensor" and totals["tensor_groups"] == 2
    sums = {c["op"]: c["groups"] for c in report["run"]["collectives"]}
    assert len(sums) == 3 + 10 and set(sums.values()) == {2}  # the pairs' and the gradients'
    loss = [n for n in totals["varying_outputs"] if not n.startswith("next/")]
    assert len(loss) == 1 and four[loss[0]].shape[0] == 2
    assert abs(four[loss[0]].mean() - one[loss[0]].item()) <= 1e-5 * abs(one[loss[0]].item())

    assert_weights_of_one_group(four, one, x, labels, lr)
