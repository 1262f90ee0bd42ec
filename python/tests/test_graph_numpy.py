# SPDX-License-Identifier: MIT
"""dojosim.graph_numpy: every op of runtime/graph/ops.def against PyTorch's functional form, on
small graphs built by hand, in float64 (so the comparison is tight)."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from dojosim import graph_numpy
from dojosim.graph import Graph

rng = np.random.default_rng(3)


def one_op(type, inputs, out_shapes, attributes=None, dtypes=None):
    """A graph of one op on host tensors `inputs` (numpy); returns its outputs."""
    g = Graph("one")
    names = []
    for i, x in enumerate(inputs):
        dtype = (dtypes or {}).get(i, "fp32")
        g.add_tensor("in{}".format(i), x.shape, dtype, "input", x)
        names.append("in{}".format(i))
    outs = ["out{}".format(i) for i in range(len(out_shapes))]
    for o, s in zip(outs, out_shapes):
        g.add_tensor(o, s)
    g.add_op("op", type, names, outs, attributes)
    values = graph_numpy.evaluate(g, dtype=np.float64)
    return [values[o] for o in outs]


def t(x):
    return torch.tensor(x, dtype=torch.float64)


def nchw(x):  # NHWC numpy -> NCHW torch
    return t(x).permute(0, 3, 1, 2)


def close(got, want):
    want = want.detach().numpy() if isinstance(want, torch.Tensor) else want
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def r(*shape):
    return rng.standard_normal(shape)


def test_every_op_of_the_table_is_evaluated():
    import pathlib
    ops_def = (pathlib.Path(__file__).resolve().parents[2] / "runtime/graph/ops.def").read_text()
    import re
    table = sorted(re.findall(r"^DOJOSIM_GRAPH_OP\((\w+),", ops_def, re.M))
    assert graph_numpy.supported_ops() == table


def test_matmuls():
    a, b = r(2, 3, 4), r(4, 5)
    close(one_op("matmul", [a, b], [(2, 3, 5)])[0], a @ b)
    close(one_op("matmul", [a, b.T.copy()], [(2, 3, 5)], {"transpose_b": True})[0], a @ b)
    a, b = r(2, 4, 3), r(2, 4, 5)
    close(one_op("batch_matmul", [a, b], [(2, 3, 5)], {"transpose_a": True})[0],
          np.swapaxes(a, 1, 2) @ b)


@pytest.mark.parametrize("stride, padding, dilation, groups", [
    (1, 0, 1, 1), (2, 1, 1, 1), ([1, 2], [2, 1], 2, 1), (1, 1, 1, 2), (1, 1, 1, 4)])
def test_conv2d(stride, padding, dilation, groups):
    x, w = r(2, 9, 8, 4), r(3, 3, 4 // groups, 8)
    want = F.conv2d(nchw(x), t(w).permute(3, 2, 0, 1), stride=stride, padding=padding,
                    dilation=dilation, groups=groups).permute(0, 2, 3, 1)
    got = one_op("conv2d", [x, w], [tuple(want.shape)],
                 {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups})
    close(got[0], want)


def test_elementwise():
    x, y, c = r(3, 4), r(4), r(3, 1)
    close(one_op("bias_add", [x, y], [(3, 4)])[0], x + y)
    close(one_op("add", [x, c], [(3, 4)])[0], x + c)
    close(one_op("sub", [x, y], [(3, 4)])[0], x - y)
    close(one_op("mul", [x, c], [(3, 4)])[0], x * c)
    close(one_op("relu", [x], [(3, 4)])[0], F.relu(t(x)))
    close(one_op("gelu", [x], [(3, 4)])[0], F.gelu(t(x)))
    close(one_op("gelu", [x], [(3, 4)], {"approximate": "tanh"})[0], F.gelu(t(x), approximate="tanh"))
    close(one_op("silu", [x], [(3, 4)])[0], F.silu(t(x)))


def test_norms_and_softmax():
    x, g, b = r(3, 5, 8), r(8), r(8)
    m, v = r(8), np.abs(r(8)) + 0.1
    close(one_op("batchnorm", [x, g, b, m, v], [x.shape], {"epsilon": 1e-3})[0],
          F.batch_norm(t(x).permute(0, 2, 1), t(m), t(v), t(g), t(b), eps=1e-3).permute(0, 2, 1))
    close(one_op("layernorm", [x, g, b], [x.shape])[0], F.layer_norm(t(x), (8,), t(g), t(b)))
    close(one_op("rmsnorm", [x, g], [x.shape])[0],
          t(x) * torch.rsqrt(t(x).pow(2).mean(-1, keepdim=True) + 1e-6) * t(g))
    close(one_op("softmax", [x], [x.shape], {"axis": 1, "scale": 0.5})[0],
          torch.softmax(t(x) * 0.5, dim=1))
    s = r(2, 3, 5)  # 3 queries, 5 keys: query i sees keys j <= i + 2
    mask = torch.triu(torch.full((3, 5), float("-inf"), dtype=torch.float64), 3)
    close(one_op("softmax", [s], [s.shape], {"causal": True})[0], torch.softmax(t(s) + mask, -1))


def test_batchnorm_in_training_and_its_gradient_are_pytorchs():
    x, g, b, dy = r(3, 5, 8), r(8), r(8), r(3, 5, 8)
    y, mean, var = one_op("batchnorm_train", [x, g, b], [x.shape, (8,), (8,)],
                          {"epsilon": 1e-3})
    xt, gt, bt = (t(v).requires_grad_() for v in (x, g, b))
    want = F.batch_norm(xt.permute(0, 2, 1), None, None, gt, bt, training=True,
                        eps=1e-3).permute(0, 2, 1)
    close(y, want)
    close(mean, x.mean(axis=(0, 1)))
    close(var, x.var(axis=(0, 1)))  # biased, as the batch's
    want.backward(t(dy))
    dx, dg, db = one_op("batchnorm_train_backward", [dy, x, g, mean, var], [x.shape, (8,), (8,)],
                        {"epsilon": 1e-3})
    close(dx, xt.grad)
    close(dg, gt.grad)
    close(db, bt.grad)


def test_pools():
    x = r(2, 7, 6, 3)
    want = F.max_pool2d(nchw(x), 3, 2, 1).permute(0, 2, 3, 1)
    close(one_op("max_pool", [x], [tuple(want.shape)], {"kernel": 3, "stride": 2, "padding": 1})[0],
          want)
    for include in (False, True):
        want = F.avg_pool2d(nchw(x), [3, 2], 2, 1, count_include_pad=include).permute(0, 2, 3, 1)
        got = one_op("avg_pool", [x], [tuple(want.shape)],
                     {"kernel": [3, 2], "stride": 2, "padding": 1, "count_include_pad": include})
        close(got[0], want)
    close(one_op("global_avg_pool", [x], [(2, 3)])[0], x.mean(axis=(1, 2)))


def test_embedding_layout_and_loss():
    ids, table = rng.integers(0, 10, (2, 3)).astype(np.int32), r(10, 4)
    close(one_op("embedding", [ids, table], [(2, 3, 4)], dtypes={0: "int32"})[0], table[ids])
    x = r(2, 3, 4)
    close(one_op("reshape", [x], [(6, 4)], {"shape": [-1, 4]})[0], x.reshape(6, 4))
    close(one_op("transpose", [x], [(4, 2, 3)], {"perm": [2, 0, 1]})[0], x.transpose(2, 0, 1))
    close(one_op("concat", [x, x[:, :1]], [(2, 4, 4)], {"axis": 1})[0],
          np.concatenate([x, x[:, :1]], 1))
    parts = one_op("split", [x], [(2, 1, 4), (2, 2, 4)], {"axis": 1, "sizes": [1, 2]})
    close(parts[0], x[:, :1])
    close(parts[1], x[:, 1:])
    parts = one_op("split", [x], [(2, 3, 2), (2, 3, 2)])
    close(parts[1], x[..., 2:])
    logits, labels = r(6, 5), rng.integers(0, 5, 6).astype(np.int32)
    for reduction in ("mean", "sum"):
        close(one_op("softmax_cross_entropy", [logits, labels], [()], {"reduction": reduction},
                     dtypes={1: "int32"})[0],
              F.cross_entropy(t(logits), torch.tensor(labels, dtype=torch.long),
                              reduction=reduction))


def test_missing_values_are_refused():
    g = Graph("g")
    g.add_tensor("x", (2,), "fp32", "input")
    g.add_tensor("y", (2,))
    g.add_op("r", "relu", ["x"], ["y"])
    with pytest.raises(graph_numpy.EvaluationError, match=r"tensor 'x' \(input\) has no values"):
        graph_numpy.evaluate(g)
    with pytest.raises(graph_numpy.EvaluationError, match=r"values of shape \[3\]; the tensor is"):
        graph_numpy.evaluate(g, {"x": np.zeros(3)})
