# SPDX-License-Identifier: MIT
"""PyTorch capture: a torch.nn.Module to a workload graph (docs/graphs.md, docs/python.md).

    g = dojosim.torch.capture(model, (x,))              # inference: the forward graph
    g = dojosim.torch.capture(model, (x,), train=True)  # forward and backward of one step
    g = dojosim.torch.capture(model, (x,), train=True, backward="aten")  # PyTorch's backward
    g.save("model.graph.yaml")                          # weights and inputs as .npy beside it

make_fx (torch.fx.experimental.proxy_tensor, PyTorch 1.13) records the aten ops the model's
forward runs on the example inputs; Python control flow on shapes is fixed for these shapes,
control flow on tensor values (which reads a value, aten._local_scalar_dense) is refused. Each
aten op maps to graph ops (_ATEN below) or is refused with a CaptureError naming the op and the
module it came from. With train=True there are two backwards:

- the default: none is traced from torch.autograd; the simulator's autodiff
  (runtime/graph/autodiff.h) appends it, the same rules a hand-written graph trains with;
- backward="aten": make_fx traces the forward and torch.autograd.grad(output, parameters) as
  one joint graph, and each aten op of PyTorch's backward (convolution_backward,
  native_batch_norm_backward, threshold_backward, nll_loss_backward, ...) maps to the graph's
  backward ops too. Autograd nodes are hooked per module (_ModulePaths), so a backward op is
  named, and refused, after the forward module whose op it differentiates.

Either way each parameter's gradient is the output grad/NAME. Nothing is downloaded.
"""
import operator
import re

import numpy as np
import torch
import torch.fx
from torch.fx.experimental import proxy_tensor

from ._lower import NHWC, Builder, CaptureError, Value, identity, permuted

__all__ = ["capture", "CaptureError"]

aten = torch.ops.aten


def _ints(v, n=2):
    v = list(v) if isinstance(v, (list, tuple)) else [v]
    return v * n if len(v) == 1 else v


# ---- the op table: aten op (by its packet name) -> a function of (builder, args) ----
# Each returns a Value, or a tuple of Values (and None for outputs only the backward reads:
# batchnorm's saved statistics, max_pool's indices), or raises CaptureError.

def _refuse(b, what):
    raise CaptureError("{}: {}".format(b.where(), what))


def _convolution(b, x, w, bias, stride, padding, dilation, transposed, output_padding, groups):
    if transposed:
        _refuse(b, "aten.convolution with transposed=True has no graph op (conv2d only)")
    if x.rank != 4:
        _refuse(b, "aten.convolution of a rank-{} input; only 2-D convolution [N, C, H, W] maps "
                "to conv2d".format(x.rank))
    return b.conv2d(x, w, bias, _ints(stride), _ints(padding), _ints(dilation), groups)


def _addmm(b, bias, x, w, beta=1, alpha=1):
    if beta != 1 or alpha != 1:
        _refuse(b, "aten.addmm with beta={} alpha={}; only 1 and 1 map".format(beta, alpha))
    return b.bias_add(b.matmul(x, w), bias, -1) if bias.rank == 1 else \
        b.binary("add", b.matmul(x, w), bias)


def _add(b, x, y, alpha=1):
    if alpha != 1:
        _refuse(b, "aten.add with alpha={}; only 1 maps".format(alpha))
    return b.binary("add", x, y)


def _sub(b, x, y, alpha=1):
    if alpha != 1:
        _refuse(b, "aten.sub with alpha={}; only 1 maps".format(alpha))
    return b.binary("sub", x, y)


def _div(b, x, y):
    if isinstance(y, Value):
        _refuse(b, "aten.div by a tensor has no graph op (division by a number maps to mul)")
    if y == 1 and b.backward:  # the mean over 1 x 1 pixels' backward
        return x
    return b.binary("mul", x, 1.0 / y)


def _batch_norm(b, x, w, bias, mean, var, training, momentum, eps):
    """Training mode: batchnorm_train (the batch's statistics). The running statistics PyTorch
    updates beside it (in place, with momentum) are side outputs this step's values and gradients
    do not read: they are not in the graph. Eval mode: batchnorm with the running statistics."""
    if training:
        y, batch_mean, batch_var = b.batchnorm_train(x, w, bias, eps, with_stats=True)
        return y, _Saved("batch mean", batch_mean), _Saved("batch variance", batch_var)
    return b.batchnorm(x, w, bias, mean, var, eps), _Saved("mean"), _Saved("inverse std")


def _batch_norm_legit(b, x, w, bias, *rest):
    """_native_batch_norm_legit (PyTorch 2): with running statistics (mean, var, training,
    momentum, eps) or without them (.no_stats: training, momentum, eps)."""
    mean, var, (training, momentum, eps) = (rest[0], rest[1], rest[2:]) if len(rest) == 5 else \
        (None, None, rest)
    if not training and mean is None:
        _refuse(b, "batchnorm in eval mode without running statistics")
    return _batch_norm(b, x, w, bias, mean, var, training, momentum, eps)


def _batch_norm_plain(b, x, w, bias, mean, var, training, momentum, eps, cudnn_enabled=True):
    """aten.batch_norm (before its decomposition): the output alone."""
    return _batch_norm(b, x, w, bias, mean, var, training or mean is None, momentum, eps)[0]


def _layer_norm(b, x, shape, w, bias, eps):
    if len(shape) != 1:
        _refuse(b, "aten.native_layer_norm over {} axes; layernorm normalises the last one"
                .format(len(shape)))
    w = w if w is not None else b.constant(np.ones(shape, np.float32))
    bias = bias if bias is not None else b.constant(np.zeros(shape, np.float32))
    return b.row_op("layernorm", x, [w, bias], {"epsilon": float(eps)}), \
        _Saved("mean", eps=float(eps)), _Saved("inverse std")


def _softmax(b, x, dim, half_to_float):
    if dim % x.rank != x.rank - 1:
        x2 = b.transpose(x, _swap(x.rank, dim))
        return b.transpose(b.row_op("softmax", x2, [], {}), _swap(x.rank, dim))
    return b.row_op("softmax", x, [], {})


def _swap(rank, dim):
    p = list(range(rank))
    p[dim % rank], p[-1] = p[-1], p[dim % rank]
    return p


def _max_pool(b, x, kernel, stride=(), padding=0, dilation=1, ceil_mode=False):
    if ceil_mode or _ints(dilation) != [1, 1]:
        _refuse(b, "aten.max_pool2d with ceil_mode or dilation has no graph op")
    kernel = _ints(kernel)
    return b.pool("max_pool", x, kernel, _ints(stride) if stride else kernel, _ints(padding)), \
        _Saved("indices")


def _avg_pool(b, x, kernel, stride=(), padding=0, ceil_mode=False, count_include_pad=True,
              divisor_override=None):
    if ceil_mode or divisor_override:
        _refuse(b, "aten.avg_pool2d with ceil_mode or divisor_override has no graph op")
    kernel = _ints(kernel)
    pad = _ints(padding)
    return b.pool("avg_pool", x, kernel, _ints(stride) if stride else kernel, pad,
                  count_include_pad and pad != [0, 0])


def _adaptive_avg_pool(b, x, size):
    if _ints(size) == [1, 1]:
        b.pooled[x.shape] = x
        return b.global_avg_pool(x, True)
    h, w = x.shape[2:]
    oh, ow = _ints(size)
    if h % oh or w % ow:
        _refuse(b, "adaptive_avg_pool2d from {}x{} to {}x{}: only whole windows map (avg_pool)"
                .format(h, w, oh, ow))
    return b.pool("avg_pool", x, [h // oh, w // ow], [h // oh, w // ow], [0, 0])


def _mean(b, x, dims, keepdim=False, dtype=None):
    dims = sorted(d % x.rank for d in dims)
    if x.rank == 4 and dims == [2, 3]:
        b.pooled[x.shape] = x
        return b.global_avg_pool(x, keepdim)
    _refuse(b, "aten.mean over axes {} of a rank-{} tensor; only the mean over H and W of "
            "[N, C, H, W] (global_avg_pool) maps".format(dims, x.rank))


def _view(b, x, shape):
    shape = list(shape)
    if -1 in shape:
        known = int(np.prod([d for d in shape if d != -1]))
        shape[shape.index(-1)] = int(np.prod(x.shape)) // known
    return b.reshape(x, shape)


def _squeeze(b, x, dim=None):
    if dim is None:
        return b.reshape(x, [d for d in x.shape if d != 1])
    shape = list(x.shape)
    if shape[dim] == 1:
        del shape[dim]
    return b.reshape(x, shape)


def _unsqueeze(b, x, dim):
    shape = list(x.shape)
    shape.insert(dim % (x.rank + 1), 1)
    return b.reshape(x, shape)


def _permute(b, x, dims):
    return b.transpose(x, dims)


def _transpose(b, x, d0, d1):
    p = list(range(x.rank))
    p[d0 % x.rank], p[d1 % x.rank] = p[d1 % x.rank], p[d0 % x.rank]
    return b.transpose(x, p)


def _t(b, x):
    return b.transpose(x, [1, 0]) if x.rank == 2 else x


def _expand(b, x, shape, implicit=False):
    shape = [x.shape[i - (len(shape) - x.rank)] if d == -1 else d for i, d in enumerate(shape)]
    if tuple(shape) == x.shape:
        return x
    if int(np.prod(shape)) == int(np.prod(x.shape)):  # only leading 1s added
        return b.reshape(x, shape)
    if x.rank == 4 and x.shape[2:] == (1, 1) and tuple(shape) in b.pooled:
        return _Expanded(x, b.pooled[tuple(shape)])  # a mean's backward, if a division follows
    _refuse(b, "aten.expand of {} to {} (a broadcast copy) has no graph op".format(
        list(x.shape), shape))


def _split(b, x, size, dim=0):
    n = x.shape[dim]
    sizes = [size] * (n // size) + ([n % size] if n % size else [])
    return tuple(b.split(x, sizes, dim))


def _split_sizes(b, x, sizes, dim=0):
    return tuple(b.split(x, list(sizes), dim))


def _cat(b, xs, dim=0):
    return b.concat(list(xs), dim)


def _embedding(b, table, ids, padding_idx=-1, scale_grad=False, sparse=False):
    return b.embedding(ids, table)


def _gelu(b, x, approximate="none"):
    return b.unary("gelu", x, {"approximate": approximate} if approximate != "none" else None)


def _slice(b, x, dim=0, start=None, end=None, step=1):
    n = x.shape[dim]
    start = 0 if start is None else start % n if start < 0 else min(start, n)
    end = n if end is None else end % n if end < 0 else min(end, n)
    if step == 1 and start == 0 and end == n:
        return x
    if step == 1:  # a part along dim: split into up to three parts, keep the middle one
        sizes = [s for s in (start, end - start, n - end) if s]
        parts = b.split(x, sizes, dim)
        return parts[1 if start else 0]
    _refuse(b, "aten.slice with step {} has no graph op".format(step))


class _LogSoftmax(Value):
    """log_softmax(x) that only a following nll_loss may read: the pair is the graph's
    softmax_cross_entropy (F.cross_entropy in aten); alone it has no graph op."""

    def __init__(self, x):
        super().__init__(x.shape)
        self.logits = x


def _log_softmax(b, x, dim, half_to_float):
    if dim % x.rank != x.rank - 1:
        _refuse(b, "aten._log_softmax along axis {} of {}; only the last, in a cross-entropy, "
                "maps".format(dim, x.rank))
    return _LogSoftmax(x)


def _nll_loss(b, logp, labels, weight, reduction, ignore_index):
    if not isinstance(logp, _LogSoftmax):
        _refuse(b, "aten.nll_loss_forward of anything but log_softmax (cross-entropy) has no "
                "graph op")
    if weight is not None or reduction not in (1, 2):
        _refuse(b, "cross-entropy with class weights or reduction='none' has no graph op")
    loss = b.cross_entropy(logp.logits, labels, "mean" if reduction == 1 else "sum")
    return loss, _Saved("total weight")


# ---- the backward's ops (capture(train=True, backward="aten")) ----

class _Saved(Value):
    """What a forward op saves for its backward only (batchnorm's batch statistics, max_pool's
    indices): read by its backward op, by nothing else. `value` the graph's tensor, if any."""

    def __init__(self, what, value=None, eps=None):
        super().__init__(value.shape if value is not None else ())
        self.what, self.value, self.eps = what, value, eps


class _Expanded(Value):
    """dy [N, C, 1, 1] expanded to [N, C, H, W]: the mean over H and W's backward, if a division
    by H W follows (global_avg_pool_backward); `x` the mean's input."""

    def __init__(self, dy, x):
        super().__init__(x.shape)
        self.dy, self.x = dy, x


class _CrossEntropyGrad(Value):
    """nll_loss_backward of a log_softmax: with the log_softmax's backward that must follow, the
    graph's softmax_cross_entropy_backward."""

    def __init__(self, logp, labels, reduction, scale):
        super().__init__(logp.shape)
        self.logp, self.labels, self.reduction, self.scale = logp, labels, reduction, scale


def _uniform(b, v, what):
    """The one value of a constant tensor (the backward's seed d loss = 1)."""
    data = v.host.data if isinstance(v, Value) and v.host is not None else None
    if data is None or data.size == 0 or not np.all(data == data.flat[0]):
        _refuse(b, "{} that is not a constant: the graph's cross-entropy backward takes d loss "
                "as a number".format(what))
    return float(data.flat[0])


def _like(b, x, value):
    return b.constant(np.full(x.shape, value, np.float32))


def _nll_loss_backward(b, dloss, logp, labels, weight, reduction, ignore_index, total_weight):
    if not isinstance(logp, _LogSoftmax) or weight is not None or reduction not in (1, 2):
        _refuse(b, "aten.nll_loss_backward of anything but a cross-entropy (log_softmax, mean or "
                "sum, no class weights) has no graph op")
    return _CrossEntropyGrad(logp, labels, "mean" if reduction == 1 else "sum",
                             _uniform(b, dloss, "aten.nll_loss_backward of a d loss"))


def _log_softmax_backward(b, dy, y, dim, dtype):
    if not isinstance(dy, _CrossEntropyGrad) or y is not dy.logp:
        _refuse(b, "aten._log_softmax_backward_data has a graph op only in a cross-entropy's "
                "backward (softmax_cross_entropy_backward)")
    attrs = {"reduction": dy.reduction, "scale": dy.scale if dy.scale != 1 else None}
    out = b.emit("softmax_cross_entropy_backward", [b.plain(dy.logp.logits), b.plain(dy.labels)],
                 [dy.shape], attrs)[0]
    return b.value(out, dy.shape)


def _same_order(b, type, dy, x, attrs=None):
    """A backward op of (dy, x) elementwise: both read in x's order."""
    perm = x.perm if x.host is None else identity(x.rank)
    out = b.emit(type, [b.as_perm(dy, perm), b.as_perm(x, perm)], [permuted(x.shape, perm)],
                 attrs)[0]
    return b.value(out, x.shape, perm)


def _threshold_backward(b, dy, y, threshold):
    """ReLU's backward: PyTorch reads relu's output y; y > 0 where x > 0 (NaN: neither)."""
    if threshold != 0:
        _refuse(b, "aten.threshold_backward with threshold {}; only ReLU's (0) maps".format(
            threshold))
    return _same_order(b, "relu_backward", dy, y)


def _gelu_backward(b, dy, x, approximate="none"):
    return _same_order(b, "gelu_backward", dy, x,
                       {"approximate": approximate} if approximate != "none" else None)


def _softmax_backward(b, dy, y, dim, dtype):
    if dim % y.rank != y.rank - 1:
        _refuse(b, "aten._softmax_backward_data along axis {} of {}; the capture's softmax "
                "differentiates along the last".format(dim, y.rank))
    out = b.emit("softmax_backward", [b.plain(dy), b.plain(y)], [y.shape])[0]
    return b.value(out, y.shape)


def _layer_norm_backward(b, dy, x, shape, mean, rstd, w, bias, mask):
    if len(shape) != 1 or w is None:
        _refuse(b, "aten.native_layer_norm_backward over {} axes or without a weight has no "
                "graph op".format(len(shape)))
    outs = b.emit("layernorm_backward", [b.plain(dy), b.plain(x), b.plain(w)],
                  [x.shape, w.shape, w.shape], {"epsilon": mean.eps})
    return b.value(outs[0], x.shape), b.value(outs[1], w.shape), b.value(outs[2], w.shape)


def _batch_norm_backward(b, dy, x, w, running_mean, running_var, mean, var, training, eps,
                         mask):
    if w is None:
        _refuse(b, "aten.native_batch_norm_backward of a batchnorm without affine weights has "
                "no graph op")
    perm = NHWC if x.rank == 4 else identity(x.rank)
    if training:
        if mean.value is None:
            _refuse(b, "aten.native_batch_norm_backward in training mode of a forward in eval "
                    "mode")
        ins, type = [mean.value, var.value], "batchnorm_train_backward"
    else:
        ins, type = [running_mean, running_var], "batchnorm_backward"
    c = x.shape[1]
    outs = b.emit(type, [b.as_perm(dy, perm), b.as_perm(x, perm), b.plain(w)] +
                  [b.plain(t) for t in ins], [permuted(x.shape, perm), (c,), (c,)],
                  {"epsilon": float(eps)})
    return b.value(outs[0], x.shape, perm), b.value(outs[1], (c,)), b.value(outs[2], (c,))


def _convolution_backward(b, dy, x, w, bias_sizes, stride, padding, dilation, transposed,
                          output_padding, groups, mask):
    if transposed or x.rank != 4:
        _refuse(b, "aten.convolution_backward of a transposed or not 2-D convolution has no "
                "graph op")
    args = (_ints(stride), _ints(padding), _ints(dilation), groups)
    dx = b.conv2d_grad_input(dy, w, x.shape, *args) if mask[0] else None
    dw = b.conv2d_grad_weight(x, dy, w.shape, *args) if mask[1] else None
    db = b.reduce_sum(dy, [0, 2, 3]) if mask[2] else None
    return dx, dw, db


def _pool_backward(b, type, dy, x, attrs):
    out = b.emit(type, [b.as_perm(dy, NHWC), b.as_perm(x, NHWC)], [permuted(x.shape, NHWC)],
                 attrs)[0]
    return b.value(out, x.shape, NHWC)


def _max_pool_backward(b, dy, x, kernel, stride, padding, dilation, ceil_mode, indices):
    if ceil_mode or _ints(dilation) != [1, 1]:
        _refuse(b, "aten.max_pool2d_with_indices_backward with ceil_mode or dilation has no "
                "graph op")
    kernel = _ints(kernel)
    return _pool_backward(b, "max_pool_backward", dy, x, {
        "kernel": kernel, "stride": _ints(stride) if stride else kernel,
        "padding": _ints(padding)})


def _avg_pool_backward(b, dy, x, kernel, stride, padding, ceil_mode, count_include_pad,
                       divisor_override):
    if ceil_mode or divisor_override:
        _refuse(b, "aten.avg_pool2d_backward with ceil_mode or divisor_override has no graph op")
    kernel, pad = _ints(kernel), _ints(padding)
    return _pool_backward(b, "avg_pool_backward", dy, x, {
        "kernel": kernel, "stride": _ints(stride) if stride else kernel, "padding": pad,
        "count_include_pad": True if count_include_pad and pad != [0, 0] else None})


def _global_pool_backward(b, dy, x):
    n, c = x.shape[:2]
    out = b.emit("global_avg_pool_backward", [b.plain(b.reshape(dy, (n, c))),
                                              b.as_perm(x, NHWC)], [permuted(x.shape, NHWC)])[0]
    return b.value(out, x.shape, NHWC)


def _adaptive_avg_pool_backward(b, dy, x):
    oh, ow = dy.shape[2:]
    if (oh, ow) == (1, 1):
        return _global_pool_backward(b, dy, x)
    h, w = x.shape[2:]
    if h % oh or w % ow:
        _refuse(b, "_adaptive_avg_pool2d_backward from {}x{} to {}x{}: only whole windows map"
                .format(h, w, oh, ow))
    k = [h // oh, w // ow]
    return _pool_backward(b, "avg_pool_backward", dy, x, {"kernel": k, "stride": k,
                                                          "padding": [0, 0]})


def _div_any(b, x, y):
    if isinstance(x, _Expanded):
        if isinstance(y, Value) or y != x.shape[2] * x.shape[3]:
            _refuse(b, "aten.div of a broadcast copy (aten.expand) by {}; only the mean's "
                    "backward (by H W) maps".format(y if not isinstance(y, Value) else
                                                    "a tensor"))
        return _global_pool_backward(b, x.dy, x.x)
    return _div(b, x, y)


def _sum(b, x, dims=None, keepdim=False, dtype=None):
    return b.reduce_sum(x, list(range(x.rank)) if dims is None or len(dims) == 0 else dims,
                        keepdim)


def _embedding_backward(b, dy, ids, vocab, padding_idx=-1, scale_grad=False):
    if padding_idx is not None and padding_idx >= 0 or scale_grad:
        _refuse(b, "aten.embedding_dense_backward with padding_idx or scale_grad_by_freq has no "
                "graph op")
    out = b.emit("embedding_backward", [b.plain(ids), b.plain(dy)], [(vocab, dy.shape[-1])],
                 {"vocab": int(vocab)})[0]
    return b.value(out, (vocab, dy.shape[-1]))


# The ops a value of these kinds may be read by (forward, backward and plain aliases).
_READERS = {
    _LogSoftmax: {"nll_loss_forward", "nll_loss_backward", "_log_softmax_backward_data",
                  "detach", "alias"},
    _CrossEntropyGrad: {"_log_softmax_backward_data"},
    _Saved: {"native_batch_norm_backward", "native_layer_norm_backward",
             "max_pool2d_with_indices_backward", "nll_loss_backward"},
    _Expanded: {"div"},
}

_DYNAMIC = {"nonzero", "masked_select", "unique", "_unique", "_unique2", "unique_consecutive",
            "unique_dim", "_local_scalar_dense", "repeat_interleave", "argwhere"}

_ATEN = {
    "convolution": _convolution,
    "addmm": _addmm,
    "mm": lambda b, x, y: b.matmul(x, y),
    "bmm": lambda b, x, y: b.matmul(x, y, batch=True),
    "relu": lambda b, x: b.unary("relu", x),
    "gelu": _gelu,
    "silu": lambda b, x: b.unary("silu", x),
    "add": _add,
    "sub": _sub,
    "rsub": lambda b, x, y, alpha=1: _sub(b, y, x, alpha),
    "mul": lambda b, x, y: b.binary("mul", x, y),
    "div": _div,
    "native_batch_norm": _batch_norm,
    "_native_batch_norm_legit": _batch_norm_legit,
    "batch_norm": _batch_norm_plain,
    "native_layer_norm": _layer_norm,
    "_softmax": _softmax,
    "_log_softmax": _log_softmax,
    "nll_loss_forward": _nll_loss,
    "max_pool2d_with_indices": _max_pool,
    "avg_pool2d": _avg_pool,
    "_adaptive_avg_pool2d": _adaptive_avg_pool,
    "mean": _mean,
    "view": _view,
    "_unsafe_view": _view,
    "_reshape_alias": lambda b, x, shape, stride: _view(b, x, shape),
    "reshape": _view,
    "squeeze": _squeeze,
    "unsqueeze": _unsqueeze,
    "permute": _permute,
    "transpose": _transpose,
    "t": _t,
    "expand": _expand,
    "split": _split,
    "split_with_sizes": _split_sizes,
    "cat": _cat,
    "embedding": _embedding,
    "slice": _slice,
    "is_same_size": lambda b, x, y: x.shape == y.shape,  # autograd's check, no tensor
    "clone": lambda b, x, memory_format=None: x,
    "detach": lambda b, x: x,
    "alias": lambda b, x: x,
    "_to_copy": lambda b, x, **kw: x,
    "lift_fresh_copy": lambda b, x: x,
    # the backward's (capture(train=True, backward="aten"))
    "ones_like": lambda b, x, **kw: _like(b, x, 1.0),
    "zeros_like": lambda b, x, **kw: _like(b, x, 0.0),
    "nll_loss_backward": _nll_loss_backward,
    "_log_softmax_backward_data": _log_softmax_backward,
    "threshold_backward": _threshold_backward,
    "gelu_backward": _gelu_backward,
    "silu_backward": lambda b, dy, x: _same_order(b, "silu_backward", dy, x),
    "_softmax_backward_data": _softmax_backward,
    "native_layer_norm_backward": _layer_norm_backward,
    "native_batch_norm_backward": _batch_norm_backward,
    "convolution_backward": _convolution_backward,
    "max_pool2d_with_indices_backward": _max_pool_backward,
    "avg_pool2d_backward": _avg_pool_backward,
    "_adaptive_avg_pool2d_backward": _adaptive_avg_pool_backward,
    "embedding_dense_backward": _embedding_backward,
    "sum": _sum,
}
_ATEN["div"] = _div_any


def supported_aten_ops():
    """The aten ops the capture maps, by packet name."""
    return sorted(_ATEN)


# ---- tracing ----

class _ModulePaths:
    """Labels each aten node make_fx records with the path of the innermost module running
    when it was recorded (forward hooks on every module). The backward runs outside them: with
    `joint`, each module's forward hook also hooks the autograd nodes its forward made (from its
    outputs' grad_fn back to its inputs', those of inner modules already taken), and the aten
    nodes such an autograd node records are labelled as the backward of that module."""

    def __init__(self, model, joint=False):
        self.stack = []
        self.entries = []
        self.labelled = 0
        self.handles = []
        self.joint = joint
        self.claimed = set()
        for path, m in model.named_modules():
            self.handles.append(m.register_forward_pre_hook(self._enter(path)))
            self.handles.append(m.register_forward_hook(self._leave(path)))

    def _graph(self):
        for mode in proxy_tensor.get_torch_dispatch_modes():
            if isinstance(mode, proxy_tensor.ProxyTorchDispatchMode):
                return mode.tracer.graph
        return None

    def label(self, path=None, backward=False):
        g = self._graph()
        if g is None:
            return
        nodes = list(g.nodes)
        here = path if path is not None else (self.stack[-1] if self.stack else "")
        for n in nodes[self.labelled:]:
            n.meta.setdefault("dojosim_path", here)
            if backward:
                n.meta["dojosim_backward"] = True
        self.labelled = len(nodes)

    def _enter(self, path):
        def hook(module, args):
            self.label()
            self.stack.append(path)
            self.entries.append({a.grad_fn for a in _tensors(args)})
        return hook

    def _leave(self, path):
        def hook(module, args, out):
            self.label()
            self.stack.pop()
            entry = self.entries.pop()
            if self.joint:
                self._claim(path, [t.grad_fn for t in _tensors(out)], entry)
        return hook

    def _claim(self, path, todo, entry):
        def labels(grad_inputs, grad_outputs):
            self.label(path, backward=True)
        while todo:
            fn = todo.pop()
            if fn is None or fn in entry or fn in self.claimed or \
                    type(fn).__name__ == "AccumulateGrad":
                continue
            self.claimed.add(fn)
            fn.register_hook(labels)
            todo.extend(f for f, _ in fn.next_functions)

    def close(self):
        for h in self.handles:
            h.remove()


def _tensors(x):
    if isinstance(x, torch.Tensor):
        return [x]
    if isinstance(x, (list, tuple)):
        return [t for v in x for t in _tensors(v)]
    if isinstance(x, dict):
        return [t for v in x.values() for t in _tensors(v)]
    return []


def _trace(model, inputs, joint=False):
    """make_fx of the model's forward; with `joint`, of the forward and
    torch.autograd.grad(output, parameters) (d output = 1): one graph whose outputs are the
    model's output and each parameter's gradient (None for one the output does not reach)."""
    params = dict(model.named_parameters())
    buffers = dict(model.named_buffers())
    names = list(params) + list(buffers)
    n_state = len(names)
    paths = _ModulePaths(model, joint)

    def run(*flat):
        state = dict(zip(names, flat[:n_state]))
        out = torch.nn.utils.stateless.functional_call(model, state, tuple(flat[n_state:]))
        if not joint:
            return out
        if not isinstance(out, torch.Tensor):
            raise CaptureError("backward=\"aten\" needs a model with one tensor output (a "
                               "loss or logits); {} returns a {}".format(
                                   type(model).__name__, type(out).__name__))
        if not out.requires_grad:
            raise CaptureError("backward=\"aten\": no parameter of {} reaches its output; "
                               "there is nothing to differentiate".format(type(model).__name__))
        paths.label()  # what comes next is the backward
        grads = torch.autograd.grad(out, flat[:len(params)], torch.ones_like(out),
                                    allow_unused=True)
        paths.label("backward", backward=True)  # what no module's autograd node recorded
        return (out,) + tuple(grads)

    flat = [p.detach().requires_grad_(joint) for p in params.values()] + \
        [t.detach() for t in buffers.values()]
    flat += list(inputs)
    try:
        with torch.set_grad_enabled(joint):
            gm = proxy_tensor.make_fx(run)(*flat)
    except RuntimeError as why:  # make_fx refuses reading a traced value (control flow on it)
        where = "module '{}'".format(paths.stack[-1]) if paths.stack and paths.stack[-1] else \
            "the top-level module"
        raise CaptureError("{}: torch.fx cannot trace it: {} (control flow or a shape that "
                           "depends on tensor values, as `if x.sum() > 0` or x[x > 0])".format(
                               where, str(why).splitlines()[0])) from None
    finally:
        paths.close()
    return gm, list(params), list(buffers), flat


def _with_backward(graph):
    """The graph and its backward, made by the simulator's autodiff (runtime/graph/autodiff.h,
    `dojosim run --backward`), every parameter's gradient an output grad/PARAM; a loss that is
    not a cross-entropy is seeded with d(output) = 1 (the host input grad_output)."""
    import os
    import subprocess
    import tempfile
    from . import _dojosim
    from . import graph as dgraph
    with tempfile.TemporaryDirectory(prefix="dojosim-capture-") as d:
        forward = os.path.join(d, "forward", "forward.graph.yaml")
        whole = os.path.join(d, "train.graph.yaml")
        graph.save(forward)
        done = subprocess.run([os.environ.get("DOJOSIM_CLI", _dojosim.cli_path), "run",
                               "--config", "tiny", "--workload", forward, "--backward", "--plan",
                               "--graph-out", whole], capture_output=True, text=True)
        if done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            message = lines[-1] if lines else "dojosim run --backward: status {}".format(
                done.returncode)
            # "dojosim run: /tmp/.../forward.graph.yaml:19: op ..." names a temporary file: the
            # op's name says where it is in the model.
            message = re.sub(r"^dojosim run: \S*forward\.graph\.yaml(:\d+)?: ", "", message)
            raise CaptureError("the backward: " + message)
        trained = dgraph.load(whole)
    trained.name = graph.name
    if trained.has_tensor("grad_output"):
        seed = trained.tensor("grad_output")
        seed.data = np.ones(seed.shape, np.float32)
    return trained


def _node_name(n):
    return getattr(n.target, "__name__", str(n.target))


def capture(model, example_inputs, train=False, dtype="bf16", name=None, with_data=True,
            backward=True):
    """The graph of `model` on `example_inputs` (a tensor or a tuple of tensors).

    train=False: the forward graph in eval mode (batchnorm with running statistics).
    train=True: forward (in training mode: batchnorm_train, with the batch's statistics; the
    running statistics PyTorch updates on the side are not in the graph), then its backward;
    every parameter's gradient is an output named grad/PARAM (role gradient) in the parameter's
    graph layout. backward selects which backward:
      True (default): made by the simulator's autodiff (`dojosim run --backward`); a loss from
        F.cross_entropy starts the backward itself, any other output is seeded with
        d(output) = 1 (a host input `grad_output` of ones).
      "aten": PyTorch's own, traced by make_fx with the forward (torch.autograd.grad of the one
        output, d(output) = 1, a constant) and lowered op by op; a backward aten op with no
        graph op is refused naming it and the forward module it differentiates.
      False: only the training-mode forward: what dojosim.train trains (it appends the
        backward and updates).
    dtype: the graph's float dtype (fp32, bf16, cfp8); integer inputs become int32.
    with_data: carry the weights and example inputs as the host tensors' values.
    Raises CaptureError naming the aten op and the module path for what has no graph op.
    """
    if isinstance(example_inputs, torch.Tensor):
        example_inputs = (example_inputs,)
    example_inputs = tuple(example_inputs)
    for i, x in enumerate(example_inputs):
        if not isinstance(x, torch.Tensor):
            raise CaptureError("example input {} is a {}; capture takes tensors".format(
                i, type(x).__name__))
    if backward not in (True, False, "aten"):
        raise ValueError("backward={!r}: expected True (the simulator's autodiff), False (the "
                         "forward only) or \"aten\" (PyTorch's, traced)".format(backward))
    joint = bool(train) and backward == "aten"
    was_training = model.training
    model.train(train)
    try:
        gm, params, buffers, flat = _trace(model, example_inputs, joint)
    finally:
        model.train(was_training)
    b = Builder(name or type(model).__name__, dtype)
    inputs = ["input" if len(example_inputs) == 1 else "input.{}".format(i)
              for i in range(len(example_inputs))]
    host_names = [(p, "weight") for p in params] + [(p, "input") for p in buffers] + \
        [(n, "input") for n in inputs]

    env = {}
    placeholders = iter(zip(host_names, flat))
    for node in gm.graph.nodes:
        b.path = node.meta.get("dojosim_path", "")
        b.backward = node.meta.get("dojosim_backward", False)
        if node.op == "placeholder":
            (hname, role), t = next(placeholders)
            t = t.detach()
            kind = "float" if t.is_floating_point() else "int32"
            env[node] = b.host(hname, t.numpy().astype(np.float32 if kind == "float"
                                                       else np.int32), role, kind)
        elif node.op == "get_attr":
            t = getattr(gm, node.target).detach()
            kind = "float" if t.is_floating_point() else "int32"
            env[node] = b.host("const." + node.target, t.numpy(), "input", kind)
        elif node.op == "call_function":
            env[node] = _lower_node(b, node, env)
        elif node.op == "output":
            outs = node.args[0]
            break
    b.path, b.backward = "", False
    flat_out = outs if isinstance(outs, (list, tuple)) else [outs]
    if joint:
        flat_out, grads = flat_out[:1], flat_out[1:]
    if train and len(flat_out) != 1:
        raise CaptureError("train=True needs a model with one tensor output (a loss or "
                           "logits); {} returns {}".format(type(model).__name__, len(flat_out)))
    for i, o in enumerate(flat_out):
        b.rename(env[o], "output" if len(flat_out) == 1 else "output.{}".format(i))
    if joint:
        for (pname, _), node, placeholder in zip(host_names, grads, gm.graph.nodes):
            if node is not None:
                _gradient_output(b, pname, env[node], env[placeholder])
        _drop_unread(b.graph)
    elif train and backward:
        b.graph = _with_backward(b.graph)
    if not with_data:
        for t in b.graph.tensors:
            t.data = None
    return b.graph


def _drop_unread(graph):
    """Drops ops none of whose outputs is read or named (output, grad/...): a reshape the
    lowering undid, a traced value nothing needs. Ops with a read output stay whole."""
    while True:
        read = {i for op in graph.ops for i in op.inputs}
        dead = [op for op in graph.ops if not any(
            o in read or o == "output" or o.startswith("grad/") for o in op.outputs)]
        if not dead:
            return
        for op in dead:
            graph.ops.remove(op)
            for o in op.outputs:
                graph.tensors.remove(graph.tensor(o))
                del graph._by_name[o]


def _gradient_output(b, name, grad, weight):
    """grad/NAME (role gradient): the parameter's gradient in the order the graph holds it."""
    if grad.host is not None or not weight.host.declared:
        raise CaptureError("the backward: the gradient of '{}' is a constant (nothing between "
                           "it and the output is differentiated)".format(name))
    perm = next(iter(weight.host.declared))  # the graph's weight = its data permuted by perm
    tensor = b.as_perm(grad, perm)
    b.rename(Value(permuted(grad.shape, perm), tensor=tensor), "grad/" + name, "gradient")


def _lower_node(b, node, env):
    if node.target is operator.getitem:
        seq, i = node.args
        return env[seq][i]  # None for an output only a backward op reads
    packet = getattr(node.target, "overloadpacket", None)
    op = packet.__name__ if packet is not None else _node_name(node)
    args = [_arg(b, env, a) for a in node.args]
    kwargs = {k: _arg(b, env, v) for k, v in node.kwargs.items()}
    if op in ("_local_scalar_dense", "is_nonzero"):
        raise CaptureError("{}: aten.{}: a tensor's value is read in Python (control flow such "
                           "as `if x.sum() > 0`, or .item()); torch.fx cannot trace that into "
                           "one graph for every input".format(b.where(), op))
    if op in _DYNAMIC:
        raise CaptureError("{}: aten.{} has a dynamic shape (its output's shape depends on the "
                           "values); a graph has one shape per tensor".format(b.where(), op))
    if not _reads_values(args) and not _reads_values(list(kwargs.values())):
        # A factory (empty, zeros, full, arange, ...): a constant, declared only if read.
        t = node.target(*args, **kwargs)
        if isinstance(t, torch.Tensor):
            kind = "float" if t.is_floating_point() else "int32"
            return b.host("const." + node.name, t.detach().numpy(), "input", kind)
        return t
    if op.endswith("_") and not op.endswith("__") and op[:-1] in _ATEN:
        # In place (ReLU(inplace=True), +=): make_fx's later nodes read this node's result, so
        # the op is its out-of-place form, unless it would change a weight or an input.
        if args and isinstance(args[0], Value) and args[0].host is not None:
            if args[0].host.name.endswith("num_batches_tracked"):
                # BatchNorm's count of training steps (+= 1 in train mode): a side output, like
                # the running statistics; nothing in the step reads it.
                return args[0]
            raise CaptureError("{}: aten.{} changes host tensor '{}' in place; a graph's "
                               "weights and inputs are read-only".format(b.where(), op,
                                                                       args[0].host.name))
        op = op[:-1]
    fn = _ATEN.get(op)
    if fn is None:
        raise CaptureError("{}: aten.{} has no graph op in dojosim (runtime/graph/ops.def; "
                           "dojosim.torch.supported_aten_ops() lists what maps)".format(
                               b.where(), op))
    kwargs.pop("dtype", None) if op == "_to_copy" else None
    for a in args:
        kind = next((k for k in _READERS if isinstance(a, k)), None)
        if kind is not None and op not in _READERS[kind]:
            raise CaptureError("{}: aten.{} reads {}, which has a graph op only as {}".format(
                b.where(), op, _WHAT[kind](a), _ONLY[kind]))
    try:
        return fn(b, *args, **kwargs)
    except TypeError as why:
        raise CaptureError("{}: aten.{} with arguments the capture does not know: {}".format(
            b.where(), op, why)) from None


_WHAT = {_LogSoftmax: lambda a: "a log_softmax",
         _CrossEntropyGrad: lambda a: "a cross-entropy's gradient",
         _Saved: lambda a: "the {} a forward op saves".format(a.what),
         _Expanded: lambda a: "a broadcast copy (aten.expand)"}
_ONLY = {_LogSoftmax: "part of a cross-entropy (softmax_cross_entropy) or its backward",
         _CrossEntropyGrad: "part of softmax_cross_entropy_backward",
         _Saved: "an input of the forward op's backward",
         _Expanded: "the backward of a mean over H and W (divided by H W)"}


def _reads_values(args):
    return any(isinstance(a, Value) or (isinstance(a, (list, tuple)) and _reads_values(a))
               for a in args)


def _arg(b, env, a):
    if isinstance(a, torch.fx.Node):
        if env[a] is None:
            raise CaptureError("{}: reads {}, an output with no graph tensor (the statistics or "
                               "indices an op saves for its backward)".format(b.where(), a.name))
        return env[a]
    if isinstance(a, (list, tuple)):
        return type(a)(_arg(b, env, x) for x in a)
    return a
