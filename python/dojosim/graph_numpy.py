# SPDX-License-Identifier: MIT
"""A numpy reference evaluator of workload graphs: every op of runtime/graph/ops.def, in
float32 or float64, in the graph's op order, with the semantics docs/graphs.md gives.

It computes the mathematics of the graph, not the machine's arithmetic: declared dtypes (bf16,
cfp8) are not rounded to. It is the reference captured graphs are compared with PyTorch by
(python/tests/test_capture.py) until graphs run on the simulator.

    values = dojosim.graph_numpy.evaluate(graph)              # host tensors' data as inputs
    values = evaluate(graph, {"input": x}, dtype=np.float64)  # or given ones
    values["output"]
"""
import math

import numpy as np

from .graph import HOST_ROLES


class EvaluationError(ValueError):
    """A graph the evaluator cannot run: a host tensor without values, or of the wrong shape."""


def _int2(v):
    return [v, v] if isinstance(v, int) else list(v)


def _attr(op, key, default):
    return op.attributes.get(key, default)


def _matmul(a, b, op, batch):
    if _attr(op, "transpose_a", False):
        a = np.swapaxes(a, -1, -2)
    if _attr(op, "transpose_b", False):
        b = np.swapaxes(b, -1, -2)
    return np.matmul(a, b)


def _windows(x, kh, kw, sh, sw, dh=1, dw=1):
    """x [N, H, W, C] (already padded) -> [N, P, Q, kh, kw, C] views of every window."""
    n, h, w, c = x.shape
    p = (h - dh * (kh - 1) - 1) // sh + 1
    q = (w - dw * (kw - 1) - 1) // sw + 1
    s = x.strides
    return np.lib.stride_tricks.as_strided(
        x, (n, p, q, kh, kw, c), (s[0], s[1] * sh, s[2] * sw, s[1] * dh, s[2] * dw, s[3]),
        writeable=False)


def _conv2d(x, w, op):
    sh, sw = _int2(_attr(op, "stride", 1))
    ph, pw = _int2(_attr(op, "padding", 0))
    dh, dw = _int2(_attr(op, "dilation", 1))
    groups = _attr(op, "groups", 1)
    r, s, cg, k = w.shape
    xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)))
    win = _windows(xp, r, s, sh, sw, dh, dw)  # [N, P, Q, R, S, C]
    kg = k // groups
    outs = [np.einsum("npqrsc,rsck->npqk", win[..., g * cg:(g + 1) * cg],
                      w[..., g * kg:(g + 1) * kg], optimize=True) for g in range(groups)]
    return np.concatenate(outs, axis=-1) if groups > 1 else outs[0]


def _pool(x, op, kind):
    kh, kw = _int2(op.attributes["kernel"])
    sh, sw = _int2(_attr(op, "stride", 1))
    ph, pw = _int2(_attr(op, "padding", 0))
    pad = ((0, 0), (ph, ph), (pw, pw), (0, 0))
    if kind == "max":
        return _windows(np.pad(x, pad, constant_values=-np.inf), kh, kw, sh, sw).max(axis=(3, 4))
    total = _windows(np.pad(x, pad), kh, kw, sh, sw).sum(axis=(3, 4))
    if _attr(op, "count_include_pad", False):
        return total / (kh * kw)
    ones = np.pad(np.ones((1,) + x.shape[1:3] + (1,), x.dtype), pad)
    return total / _windows(ones, kh, kw, sh, sw).sum(axis=(3, 4))


def _gelu(x, op):
    if _attr(op, "approximate", "none") == "tanh":
        return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))
    erf = np.vectorize(math.erf, otypes=[x.dtype])
    return 0.5 * x * (1 + erf(x / math.sqrt(2)))


def _softmax(x, op):
    axis = _attr(op, "axis", -1)
    x = x * _attr(op, "scale", 1.0)
    if _attr(op, "causal", False):
        sq, sk = x.shape[-2:]
        future = np.arange(sk)[None, :] > np.arange(sq)[:, None] + (sk - sq)
        x = np.where(future, -np.inf, x)
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _layernorm(x, g, b, op):
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + _attr(op, "epsilon", 1e-5)) * g + b


def _split(x, op):
    axis = _attr(op, "axis", -1)
    sizes = _attr(op, "sizes", [])
    if not sizes:
        return np.split(x, len(op.outputs), axis=axis)
    return np.split(x, np.cumsum(sizes)[:-1], axis=axis)


def _cross_entropy(logits, labels, op):
    z = logits - logits.max(axis=-1, keepdims=True)
    logp = z - np.log(np.exp(z).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(logp, labels[..., None].astype(np.int64), axis=-1)[..., 0]
    return -(picked.mean() if _attr(op, "reduction", "mean") == "mean" else picked.sum())


# ---- the backward ops (docs/graphs.md, "Training") ----

def _gelu_backward(dy, x, op):
    if _attr(op, "approximate", "none") == "tanh":
        c = math.sqrt(2 / math.pi)
        t = np.tanh(c * (x + 0.044715 * x ** 3))
        return dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x))
    erf = np.vectorize(math.erf, otypes=[x.dtype])
    return dy * (0.5 * (1 + erf(x / math.sqrt(2))) + x * np.exp(-0.5 * x * x) /
                 math.sqrt(2 * math.pi))


def _silu_backward(dy, x):
    s = 1 / (1 + np.exp(-x))
    return dy * s * (1 + x * (1 - s))


def _rows(x):
    """Every axis but the last: what a [C] parameter's gradient sums over."""
    return tuple(range(x.ndim - 1))


def _reduce_sum(x, op):
    axes = _attr(op, "axes", [])
    return x.sum(axis=tuple(a % x.ndim for a in axes) if axes else None,
                 keepdims=_attr(op, "keepdims", False))


def _batchnorm_backward(dy, x, scale, mean, var, op):
    rstd = 1 / np.sqrt(var + _attr(op, "epsilon", 1e-5))
    return [dy * scale * rstd, (dy * (x - mean) * rstd).sum(axis=_rows(x)), dy.sum(axis=_rows(x))]


def _batchnorm_train(x, scale, bias, op):
    """The batch's statistics over every axis but the last (biased variance, two passes)."""
    mean = x.mean(axis=_rows(x))
    var = ((x - mean) ** 2).mean(axis=_rows(x))
    return [(x - mean) / np.sqrt(var + _attr(op, "epsilon", 1e-5)) * scale + bias, mean, var]


def _batchnorm_train_backward(dy, x, scale, mean, var, op):
    rows = x.size // x.shape[-1]
    rstd = 1 / np.sqrt(var + _attr(op, "epsilon", 1e-5))
    xhat = (x - mean) * rstd
    dscale, dbias = (dy * xhat).sum(axis=_rows(x)), dy.sum(axis=_rows(x))
    return [scale * rstd / rows * (rows * dy - dbias - xhat * dscale), dscale, dbias]


def _layernorm_backward(dy, x, gamma, op):
    mean = x.mean(axis=-1, keepdims=True)
    rstd = 1 / np.sqrt(((x - mean) ** 2).mean(axis=-1, keepdims=True) + _attr(op, "epsilon", 1e-5))
    xhat = (x - mean) * rstd
    g = dy * gamma
    dx = rstd * (g - g.mean(axis=-1, keepdims=True) -
                 xhat * (g * xhat).mean(axis=-1, keepdims=True))
    return [dx, (dy * xhat).sum(axis=_rows(x)), dy.sum(axis=_rows(x))]


def _rmsnorm_backward(dy, x, gamma, op):
    r = 1 / np.sqrt((x * x).mean(axis=-1, keepdims=True) + _attr(op, "epsilon", 1e-6))
    g = dy * gamma
    dx = r * (g - x * r * r * (g * x).mean(axis=-1, keepdims=True))
    return [dx, (dy * x * r).sum(axis=_rows(x))]


def _softmax_backward(dy, y, op):
    axis = _attr(op, "axis", -1)
    return _attr(op, "scale", 1.0) * y * (dy - (dy * y).sum(axis=axis, keepdims=True))


def _cross_entropy_backward(logits, labels, op):
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    p = z / z.sum(axis=-1, keepdims=True)
    rows = p.reshape(-1, p.shape[-1])
    rows[np.arange(rows.shape[0]), labels.reshape(-1).astype(np.int64)] -= 1
    mean = _attr(op, "reduction", "mean") == "mean"
    return p * _attr(op, "scale", 1.0) / (rows.shape[0] if mean else 1)


def _pool_backward(dy, x, op, kind):
    """Each window's gradient to its first max (max_pool) or spread over it (avg_pool)."""
    kh, kw = _int2(op.attributes["kernel"])
    sh, sw = _int2(_attr(op, "stride", 1))
    ph, pw = _int2(_attr(op, "padding", 0))
    n, h, w, c = x.shape
    dx = np.zeros((n, h + 2 * ph, w + 2 * pw, c), dy.dtype)
    inside = np.pad(np.ones((h, w), bool), ((ph, ph), (pw, pw)))
    xp = np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0)), constant_values=-np.inf)
    for p in range(dy.shape[1]):
        for q in range(dy.shape[2]):
            r0, c0 = p * sh, q * sw
            if kind == "max":
                win = xp[:, r0:r0 + kh, c0:c0 + kw, :].reshape(n, kh * kw, c)
                first = win.argmax(axis=1)  # the first position holding the max
                for t in range(kh * kw):
                    hit = first == t
                    dx[:, r0 + t // kw, c0 + t % kw, :] += np.where(hit, dy[:, p, q, :], 0)
            else:
                count = kh * kw if _attr(op, "count_include_pad", False) else \
                    inside[r0:r0 + kh, c0:c0 + kw].sum()
                dx[:, r0:r0 + kh, c0:c0 + kw, :] += dy[:, p:p + 1, q:q + 1, :] / count
    return dx[:, ph:ph + h, pw:pw + w, :]


def _embedding_backward(ids, dy, op):
    table = np.zeros((op.attributes["vocab"], dy.shape[-1]), dy.dtype)
    np.add.at(table, ids.reshape(-1).astype(np.int64), dy.reshape(-1, dy.shape[-1]))
    return table


def _conv_geometry(op):
    return (_int2(_attr(op, "stride", 1)), _int2(_attr(op, "padding", 0)),
            _int2(_attr(op, "dilation", 1)), _attr(op, "groups", 1))


def _conv2d_grad_input(dy, w, op):
    (sh, sw), (ph, pw), (dh, dw), groups = _conv_geometry(op)
    h, wi = _int2(op.attributes["input_size"])
    r, s, cg, k = w.shape
    n, p, q, _ = dy.shape
    kg = k // groups
    # Padded x, large enough for every tap of every output (numpy slices would clip silently).
    dx = np.zeros((n, max(h + 2 * ph, (r - 1) * dh + sh * p),
                   max(wi + 2 * pw, (s - 1) * dw + sw * q), cg * groups), dy.dtype)
    for g in range(groups):
        for i in range(r):
            for j in range(s):
                part = np.einsum("npqk,ck->npqc", dy[..., g * kg:(g + 1) * kg],
                                 w[i, j, :, g * kg:(g + 1) * kg])
                dx[:, i * dh:i * dh + sh * p:sh, j * dw:j * dw + sw * q:sw,
                   g * cg:(g + 1) * cg] += part
    return dx[:, ph:ph + h, pw:pw + wi, :]


def _conv2d_grad_weight(x, dy, op):
    (sh, sw), (ph, pw), (dh, dw), groups = _conv_geometry(op)
    r, s = _int2(op.attributes["kernel"])
    cg, kg = x.shape[-1] // groups, dy.shape[-1] // groups
    win = _windows(np.pad(x, ((0, 0), (ph, ph), (pw, pw), (0, 0))), r, s, sh, sw, dh, dw)
    win = win[:, :dy.shape[1], :dy.shape[2]]
    outs = [np.einsum("npqrsc,npqk->rsck", win[..., g * cg:(g + 1) * cg],
                      dy[..., g * kg:(g + 1) * kg], optimize=True) for g in range(groups)]
    return np.concatenate(outs, axis=-1) if groups > 1 else outs[0]


def _unscaled(old, g, unscale):
    """Dynamic loss scaling's optional last input of an update: (skip, the gradient times it)."""
    if not unscale:
        return False, g
    f = np.asarray(unscale[0]).reshape(-1)[0]
    return not np.isfinite(f), g * f


def _sgd_update(w, g, v, op, *unscale):
    skip, g = _unscaled(w, g, unscale)
    if skip:
        return [w, v]
    g = g + _attr(op, "weight_decay", 0.0) * w
    v = _attr(op, "momentum", 0.9) * v + g
    return [w - op.attributes["lr"] * v, v]


def _loss_scale_update(check, scale, good, op):
    """GradScaler's rule (torch.cuda.amp, _amp_update_scale_)."""
    if not np.isfinite(check):
        return [scale * _attr(op, "backoff", 0.5), np.zeros_like(good)]
    if good + 1 >= _attr(op, "interval", 2000):
        grown = scale * _attr(op, "growth", 2.0)
        return [grown if np.isfinite(grown) else scale, np.zeros_like(good)]
    return [scale, good + 1]


def _adamw_update(w, g, m, v, op, *unscale):
    skip, g = _unscaled(w, g, unscale)
    if skip:
        return [w, m, v]
    lr, b1, b2 = op.attributes["lr"], _attr(op, "beta1", 0.9), _attr(op, "beta2", 0.999)
    t = _attr(op, "step", 1)
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g * g
    step = m / (1 - b1 ** t) / (np.sqrt(v / (1 - b2 ** t)) + _attr(op, "epsilon", 1e-8))
    return [w * (1 - lr * _attr(op, "weight_decay", 0.01)) - lr * step, m, v]


# One row per op of ops.def: inputs -> output (or a list of outputs for the ops with several).
_OPS = {
    "matmul": lambda op, a, b: _matmul(a, b, op, False),
    "batch_matmul": lambda op, a, b: _matmul(a, b, op, True),
    "conv2d": lambda op, x, w: _conv2d(x, w, op),
    "bias_add": lambda op, x, b: x + b,
    "add": lambda op, a, b: a + b,
    "sub": lambda op, a, b: a - b,
    "mul": lambda op, a, b: a * b,
    "relu": lambda op, x: np.maximum(x, 0),
    "gelu": lambda op, x: _gelu(x, op),
    "silu": lambda op, x: x / (1 + np.exp(-x)),
    "batchnorm": lambda op, x, s, b, m, v: (x - m) / np.sqrt(v + _attr(op, "epsilon", 1e-5)) * s
    + b,
    "batchnorm_train": lambda op, x, s, b: _batchnorm_train(x, s, b, op),
    "layernorm": lambda op, x, g, b: _layernorm(x, g, b, op),
    "rmsnorm": lambda op, x, g: x / np.sqrt((x * x).mean(axis=-1, keepdims=True) +
                                            _attr(op, "epsilon", 1e-6)) * g,
    "softmax": lambda op, x: _softmax(x, op),
    "max_pool": lambda op, x: _pool(x, op, "max"),
    "avg_pool": lambda op, x: _pool(x, op, "avg"),
    "global_avg_pool": lambda op, x: x.mean(axis=(1, 2)),
    "embedding": lambda op, ids, table: table[ids.astype(np.int64)],
    "reshape": lambda op, x: x.reshape(op.attributes["shape"]),
    "transpose": lambda op, x: np.transpose(x, op.attributes["perm"]),
    "concat": lambda op, *xs: np.concatenate(xs, axis=op.attributes["axis"]),
    "split": lambda op, x: _split(x, op),
    "softmax_cross_entropy": lambda op, logits, labels: _cross_entropy(logits, labels, op),
    "sgd_update": lambda op, w, g, v, *f: _sgd_update(w, g, v, op, *f),
    "adamw_update": lambda op, w, g, m, v, *f: _adamw_update(w, g, m, v, op, *f),
    "unscale_factor": lambda op, check, scale: 1 / scale + (check - check),
    "loss_scale_update": lambda op, check, scale, good: _loss_scale_update(check, scale, good, op),
    "conv2d_grad_input": lambda op, dy, w: _conv2d_grad_input(dy, w, op),
    "conv2d_grad_weight": lambda op, x, dy: _conv2d_grad_weight(x, dy, op),
    "relu_backward": lambda op, dy, x: np.where(x > 0, dy, 0),
    "gelu_backward": lambda op, dy, x: _gelu_backward(dy, x, op),
    "silu_backward": lambda op, dy, x: _silu_backward(dy, x),
    "reduce_sum": lambda op, x: _reduce_sum(x, op),
    "scale": lambda op, x: x * op.attributes["factor"],
    # The mathematics: no rounding; the factor a tensor's where given (dynamic loss scaling).
    "cast": lambda op, x, *f: x * (np.asarray(f[0]).reshape(-1)[0] if f else
                                   _attr(op, "factor", 1.0)),
    # One replica's view of a data-parallel step: every group holds this x (the graph's own
    # batch in every group), so the sum over the groups is groups x.
    "allreduce": lambda op, x: x * _attr(op, "groups", 1),
    "batchnorm_backward": lambda op, dy, x, s, m, v: _batchnorm_backward(dy, x, s, m, v, op),
    "batchnorm_train_backward": lambda op, dy, x, s, m, v:
    _batchnorm_train_backward(dy, x, s, m, v, op),
    "layernorm_backward": lambda op, dy, x, g: _layernorm_backward(dy, x, g, op),
    "rmsnorm_backward": lambda op, dy, x, g: _rmsnorm_backward(dy, x, g, op),
    "softmax_backward": lambda op, dy, y: _softmax_backward(dy, y, op),
    "softmax_cross_entropy_backward": lambda op, logits, labels:
    _cross_entropy_backward(logits, labels, op),
    "max_pool_backward": lambda op, dy, x: _pool_backward(dy, x, op, "max"),
    "avg_pool_backward": lambda op, dy, x: _pool_backward(dy, x, op, "avg"),
    "global_avg_pool_backward": lambda op, dy, x:
    np.broadcast_to(dy[:, None, None, :] / (x.shape[1] * x.shape[2]), x.shape),
    "embedding_backward": lambda op, ids, dy: _embedding_backward(ids, dy, op),
}


def supported_ops():
    return sorted(_OPS)


def evaluate(graph, inputs=None, dtype=np.float32):
    """Runs `graph` (a dojosim.graph.Graph): host tensors take `inputs[name]` or their data.
    Returns every tensor's value by name, floats in `dtype`, int32 tensors as int32."""
    inputs = inputs or {}
    values = {}
    for t in graph.tensors:
        if t.role not in HOST_ROLES:
            continue
        v = inputs.get(t.name, t.data)
        if v is None:
            raise EvaluationError("tensor '{}' ({}) has no values: give inputs['{}'] or capture "
                                  "with its data".format(t.name, t.role, t.name))
        v = np.asarray(v)
        if tuple(v.shape) != t.shape:
            raise EvaluationError("tensor '{}': values of shape {}; the tensor is {}".format(
                t.name, list(v.shape), list(t.shape)))
        values[t.name] = v.astype(np.int32 if t.dtype == "int32" else dtype)
    for op in graph.ops:
        fn = _OPS.get(op.type)
        if fn is None:
            raise EvaluationError("op '{}': type '{}' is not in the evaluator".format(
                op.name, op.type))
        out = fn(op, *[values[i] for i in op.inputs])
        outs = out if isinstance(out, list) else [out]
        for name, v in zip(op.outputs, outs):
            v = np.asarray(v, dtype=dtype)
            want = graph.tensor(name).shape
            if v.shape != want:
                raise EvaluationError("op '{}' ({}): output '{}' is {}; declared {}".format(
                    op.name, op.type, name, list(v.shape), list(want)))
            values[name] = v
    return values
