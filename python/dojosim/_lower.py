# SPDX-License-Identifier: MIT
"""The part of PyTorch capture and ONNX import they share: building a graph of the format
(docs/graphs.md) from ops on NCHW tensors, PyTorch's and ONNX's convention.

The graph format is channels-last (NHWC activations, RSCK conv weights). A `Value` is a tensor of
the front end (its logical shape, NCHW for images) held in the graph as a tensor permuted by
`perm` (graph shape[i] = logical shape[perm[i]]). Transposes of the front end only change
`perm`; an op that needs another order gets a `transpose` op (or a free `reshape` when only
size-1 axes move), and a host tensor (weight, input) is simply stored in the order its first
consumer wants. So a torchvision ResNet becomes convolutions on NHWC with no transposes inside.
"""
import numpy as np

from .graph import Graph

NHWC = (0, 2, 3, 1)  # of a logical NCHW tensor
HWIO = (2, 3, 1, 0)  # of a logical [K, C, R, S] conv weight


class CaptureError(Exception):
    """A model the capture or the import cannot express; the message names the op and where."""


def _conv_attrs(stride, padding, dilation, groups):
    """conv2d's attributes (and its gradients'), a pair of equal values as one, defaults left
    out."""
    attrs = {"stride": list(stride), "padding": list(padding), "dilation": list(dilation),
             "groups": groups if groups != 1 else None}
    for key in ("stride", "padding", "dilation"):
        if attrs[key][0] == attrs[key][1]:
            attrs[key] = attrs[key][0]
        if attrs[key] == (0 if key == "padding" else 1):
            attrs[key] = None
    return attrs


def identity(rank):
    return tuple(range(rank))


def permuted(shape, perm):
    return tuple(shape[p] for p in perm)


class Host:
    """A host tensor's values (weight, input, constant) in the front end's layout, and the graph
    tensors declared from them, by order (perm -> name): one per order some op asked for."""

    def __init__(self, name, data, role, kind, shape):
        self.name, self.data, self.role, self.kind = name, data, role, kind
        self.shape = tuple(shape)
        self.declared = {}


class Value:
    """A front-end tensor: its logical shape and kind ('float' or 'int32'), and where the graph
    holds it: graph tensor `tensor` = logical.permute(perm); or, for a host tensor, logical =
    host.data.permute(perm) and the graph tensor is declared when an op reads it."""

    def __init__(self, shape, kind="float", tensor=None, perm=None, host=None):
        self.shape = tuple(int(d) for d in shape)
        self.kind = kind
        self.tensor = tensor
        self.perm = tuple(perm) if perm is not None else identity(len(self.shape))
        self.host = host
        self.views = {}  # perm -> graph tensor: copies made in other orders

    @property
    def rank(self):
        return len(self.shape)


class Builder:
    def __init__(self, name, dtype="bf16"):
        if dtype not in ("fp32", "bf16", "cfp8"):
            raise ValueError("dtype='{}': expected fp32, bf16 or cfp8".format(dtype))
        self.graph = Graph(name)
        self.dtype = dtype
        self.path = ""  # the module (or ONNX node) the ops being emitted come from
        self.path_kind = "module"  # what errors call it: "module", or "node" for ONNX
        self.backward = False  # emitting ops of a traced backward (of the module `path`)
        self.pooled = {}  # logical shape -> the Value a global_avg_pool read (its backward's x)
        self._op_names = set()
        self._reshaped = {}  # a reshape's output tensor -> the Value it reshaped
        self._const = 0

    # ---- names and tensors ----
    def where(self):
        if self.path == "backward":  # what autograd.grad records for no module we can name
            return "the backward pass"
        where = "the top-level module" if not self.path else "{} '{}'".format(self.path_kind,
                                                                            self.path)
        return "the backward of " + where if self.backward else where

    def op_name(self, type):
        if self.backward:  # a traced backward's op: after the forward module, as autodiff's
            type += ".grad"
        base = "{}/{}".format(self.path, type) if self.path and self.path != "backward" else type
        name, i = base, 1
        while name in self._op_names:
            name, i = "{}_{}".format(base, i), i + 1
        self._op_names.add(name)
        return name

    def graph_dtype(self, kind):
        return "int32" if kind == "int32" else self.dtype

    def host(self, name, data, role="weight", kind="float", shape=None):
        """A host tensor (weight, input, constant), declared when an op first reads it;
        `data` None for one without values (then `shape` gives its shape)."""
        if data is not None:
            data = np.asarray(data)
            shape = data.shape
        return Value(shape, kind, host=Host(name, data, role, kind, shape))

    def constant(self, value, kind="float"):
        self._const += 1
        data = np.asarray(value, dtype=np.int32 if kind == "int32" else np.float32)
        # A constant is read, never trained: an input, so the backward gives it no gradient.
        return self.host("const.{}".format(self._const), data, "input", kind)

    def _declare_host(self, host, perm):
        if perm in host.declared:
            return host.declared[perm]
        name = host.name
        if host.declared:  # another order of the same values: a tensor of its own
            name = "{}.perm{}".format(host.name, "".join(map(str, perm)))
        data = None if host.data is None else np.array(np.transpose(host.data, perm), order="C")
        self.graph.add_tensor(name, permuted(host.shape, perm), self.graph_dtype(host.kind),
                              host.role, data)
        host.declared[perm] = name
        return name

    def emit(self, type, inputs, out_shapes, attributes=None, out_kind="float", names=None):
        """Adds an op reading graph tensors `inputs`; returns its output tensor names."""
        op = self.op_name(type)
        outs = names or ([op] if len(out_shapes) == 1 else
                         ["{}:{}".format(op, i) for i in range(len(out_shapes))])
        for o, s in zip(outs, out_shapes):
            self.graph.add_tensor(o, s, self.graph_dtype(out_kind))
        attrs = {k: v for k, v in (attributes or {}).items() if v is not None}
        self.graph.add_op(op, type, inputs, outs, attrs)
        return outs

    # ---- orders ----
    def as_perm(self, v, perm):
        """The graph tensor holding v permuted by `perm`, adding a transpose when needed."""
        perm = tuple(perm)
        if v.host is not None:  # a host tensor: stored in the order asked for
            return self._declare_host(v.host, tuple(v.perm[p] for p in perm))
        if v.perm == perm:
            return v.tensor
        if perm in v.views:
            return v.views[perm]
        rel = [v.perm.index(p) for p in perm]  # output axis i is graph axis rel[i]
        shape = permuted(v.shape, perm)
        moving = [a for a in rel if v.shape[v.perm[a]] != 1]
        if moving == sorted(moving):  # only size-1 axes move: the same element order
            out = self.emit("reshape", [v.tensor], [shape], {"shape": list(shape)})[0]
        else:
            out = self.emit("transpose", [v.tensor], [shape], {"perm": rel})[0]
        v.views[perm] = out
        return out

    def plain(self, v):
        return self.as_perm(v, identity(v.rank))

    def value(self, tensor, shape, perm=None, kind="float"):
        return Value(shape, kind, tensor=tensor, perm=perm)

    def graph_axis(self, v, axis):
        """Where logical axis `axis` of v is in the graph tensor (v must be declared)."""
        return v.perm.index(axis % v.rank)

    # ---- ops, on logical (NCHW) values ----
    def unary(self, type, x, attributes=None):
        perm = x.perm if x.host is None else identity(x.rank)
        out = self.emit(type, [self.as_perm(x, perm)], [permuted(x.shape, perm)], attributes)[0]
        return self.value(out, x.shape, perm)

    def binary(self, type, a, b):
        """add, sub, mul with numpy broadcasting; a Python number becomes a constant."""
        if not isinstance(a, Value):
            a = self.constant(a)
        if not isinstance(b, Value):
            b = self.constant(b)
        shape = tuple(np.broadcast_shapes(a.shape, b.shape))
        rank = len(shape)
        # Keep the order of a full-rank operand when every other is a scalar or of full rank.
        full = [x for x in (a, b) if x.rank == rank and x.host is None]
        perm = full[0].perm if full else identity(rank)
        if any(0 < x.rank < rank for x in (a, b)):
            perm = identity(rank)
        names = [self.as_perm(x, perm if x.rank == rank else identity(x.rank)) for x in (a, b)]
        out = self.emit(type, names, [permuted(shape, perm)])[0]
        return self.value(out, shape, perm)

    def bias_add(self, x, b, channel_axis):
        """x + b along x's logical axis `channel_axis` (the graph's last axis)."""
        if x.rank == 4 and channel_axis == 1:
            perm = NHWC
        elif channel_axis % x.rank == x.rank - 1:
            perm = identity(x.rank)
        else:
            raise CaptureError("{}: a bias along axis {} of a rank-{} tensor".format(
                self.where(), channel_axis, x.rank))
        xn = self.as_perm(x, perm)
        out = self.emit("bias_add", [xn, self.plain(b)], [permuted(x.shape, perm)])[0]
        return self.value(out, x.shape, perm)

    def matmul(self, a, b, batch=False):
        """a @ b (logical shapes [..., M, K] x [K, N], or both batched); transposes of the last
        two axes of either become transpose_a / transpose_b."""
        def operand(v):
            swapped = identity(v.rank - 2) + (v.rank - 1, v.rank - 2)
            if v.host is None and v.perm == swapped:
                return v.tensor, True
            if v.host is not None and v.perm == swapped:  # a weight used transposed, as Linear's
                return self._declare_host(v.host, identity(v.rank)), True
            return self.as_perm(v, identity(v.rank)), False
        an, ta = operand(a)
        bn, tb = operand(b)
        shape = a.shape[:-1] + (b.shape[-1],)
        attrs = {}
        if ta:
            attrs["transpose_a"] = True
        if tb:
            attrs["transpose_b"] = True
        out = self.emit("batch_matmul" if batch else "matmul", [an, bn], [shape], attrs)[0]
        return self.value(out, shape)

    def conv2d(self, x, w, bias, stride, padding, dilation, groups):
        n, c, h, wd = x.shape
        k, cg, r, s = w.shape
        p = (h + 2 * padding[0] - dilation[0] * (r - 1) - 1) // stride[0] + 1
        q = (wd + 2 * padding[1] - dilation[1] * (s - 1) - 1) // stride[1] + 1
        out = self.emit("conv2d", [self.as_perm(x, NHWC), self.as_perm(w, HWIO)],
                        [(n, p, q, k)], _conv_attrs(stride, padding, dilation, groups))[0]
        y = self.value(out, (n, k, p, q), NHWC)
        return self.bias_add(y, bias, 1) if bias is not None else y

    def conv2d_grad_input(self, dy, w, x_shape, stride, padding, dilation, groups):
        """dx of conv2d(x, w) from dy (logical NCHW), x of logical shape `x_shape`."""
        n, c, h, wd = x_shape
        attrs = _conv_attrs(stride, padding, dilation, groups)
        attrs["input_size"] = [h, wd]
        out = self.emit("conv2d_grad_input", [self.as_perm(dy, NHWC), self.as_perm(w, HWIO)],
                        [(n, h, wd, c)], attrs)[0]
        return self.value(out, x_shape, NHWC)

    def conv2d_grad_weight(self, x, dy, w_shape, stride, padding, dilation, groups):
        """dw of conv2d(x, w) from dy, w of logical shape `w_shape` [K, C/groups, R, S]."""
        k, cg, r, s = w_shape
        attrs = _conv_attrs(stride, padding, dilation, groups)
        attrs["kernel"] = [r, s]
        out = self.emit("conv2d_grad_weight", [self.as_perm(x, NHWC), self.as_perm(dy, NHWC)],
                        [(r, s, cg, k)], attrs)[0]
        return self.value(out, w_shape, HWIO)

    def reduce_sum(self, x, dims, keepdim=False):
        """The sum over logical axes `dims`. A run sums every axis, or a run of axes ending just
        before the last (a bias's gradient [..., C] -> [C]), so x is read in an order where the
        summed axes are such a run: its own if they are, else a transpose first."""
        dims = sorted(set(d % x.rank for d in dims))
        kept = [d for d in range(x.rank) if d not in dims]
        where = sorted(x.perm.index(d) for d in dims)
        if x.host is None and (not kept or (where[-1] == x.rank - 2 and
                                            where[-1] - where[0] + 1 == len(where))):
            perm, axes = x.perm, where  # the summed axes are a run already: no transpose
        else:
            perm = tuple(kept[:-1] + dims + kept[-1:])
            axes = list(range(len(kept) - 1, len(kept) - 1 + len(dims))) if kept else []
        attrs = {"axes": axes} if kept else {}
        shape = tuple(x.shape[d] for d in kept)
        # the graph keeps the kept axes in perm's order: graph axis j is result axis order[j]
        order = [kept.index(p) for p in perm if p in kept]
        out = self.emit("reduce_sum", [self.as_perm(x, perm)], [permuted(shape, order)],
                        attrs)[0]
        y = Value(shape, tensor=out, perm=order)
        if keepdim:
            return self.reshape(y, [1 if d in dims else x.shape[d] for d in range(x.rank)])
        return y

    def batchnorm(self, x, scale, shift, mean, var, eps):
        perm = NHWC if x.rank == 4 else identity(x.rank)
        if x.rank not in (2, 4):
            raise CaptureError("{}: batchnorm of a rank-{} tensor; expected [N, C] or [N, C, H, W]"
                               .format(self.where(), x.rank))
        ins = [self.as_perm(x, perm)] + [self.plain(t) for t in (scale, shift, mean, var)]
        out = self.emit("batchnorm", ins, [permuted(x.shape, perm)], {"epsilon": float(eps)})[0]
        return self.value(out, x.shape, perm)

    def batchnorm_train(self, x, scale, shift, eps, with_stats=False):
        """Batchnorm with batch statistics (training): y, and the batch's mean and variance as
        outputs no op reads (the backward's batchnorm_train_backward reads them; with_stats:
        (y, mean, variance), for a traced backward)."""
        perm = NHWC if x.rank == 4 else identity(x.rank)
        if x.rank not in (2, 4):
            raise CaptureError("{}: batchnorm of a rank-{} tensor; expected [N, C] or [N, C, H, W]"
                               .format(self.where(), x.rank))
        c = x.shape[1]
        scale = scale if scale is not None else self.constant(np.ones(c, np.float32))
        shift = shift if shift is not None else self.constant(np.zeros(c, np.float32))
        ins = [self.as_perm(x, perm), self.plain(scale), self.plain(shift)]
        y, mean, var = self.emit("batchnorm_train", ins, [permuted(x.shape, perm), (c,), (c,)],
                                 {"epsilon": float(eps)})
        y = self.value(y, x.shape, perm)
        return (y, self.value(mean, (c,)), self.value(var, (c,))) if with_stats else y

    def pool(self, type, x, kernel, stride, padding, count_include_pad=None):
        n, c, h, w = x.shape
        p = (h + 2 * padding[0] - kernel[0]) // stride[0] + 1
        q = (w + 2 * padding[1] - kernel[1]) // stride[1] + 1
        attrs = {"kernel": list(kernel), "stride": list(stride), "padding": list(padding)}
        if count_include_pad:
            attrs["count_include_pad"] = True
        out = self.emit(type, [self.as_perm(x, NHWC)], [(n, p, q, c)], attrs)[0]
        return self.value(out, (n, c, p, q), NHWC)

    def global_avg_pool(self, x, keepdim):
        n, c = x.shape[:2]
        out = self.emit("global_avg_pool", [self.as_perm(x, NHWC)], [(n, c)])[0]
        v = self.value(out, (n, c))
        return self.reshape(v, (n, c, 1, 1)) if keepdim else v

    def reshape(self, x, shape):
        shape = tuple(int(d) for d in shape)
        if shape == x.shape:
            return x
        back = self._reshaped.get(x.tensor) if x.host is None and self.backward else None
        if back is not None and back.shape == shape and x.perm == identity(x.rank):
            return back  # in a traced backward, a reshape undone (a sum's kept axis dropped
            # again): no op; dojosim.torch drops the first if nothing else reads it
        out = self.emit("reshape", [self.plain(x)], [shape], {"shape": list(shape)})[0]
        y = self.value(out, shape)
        self._reshaped[out] = x
        return y

    def transpose(self, x, perm):
        """Logical transpose: only the order changes, no op."""
        perm = tuple(int(p) % x.rank for p in perm)
        shape = permuted(x.shape, perm)
        if x.host is not None:  # logical = data.permute(x.perm).permute(perm)
            return Value(shape, x.kind, perm=[x.perm[p] for p in perm], host=x.host)
        return Value(shape, x.kind, tensor=x.tensor, perm=[perm.index(p) for p in x.perm])

    def row_op(self, type, x, params, attributes):
        """softmax, layernorm, rmsnorm: over the last logical axis, on the plain order."""
        out = self.emit(type, [self.plain(x)] + [self.plain(p) for p in params], [x.shape],
                        attributes)[0]
        return self.value(out, x.shape)

    def concat(self, xs, axis):
        axis = axis % xs[0].rank
        perm = xs[0].perm if all(x.host is None and x.perm == xs[0].perm for x in xs) else \
            identity(xs[0].rank)
        shape = list(xs[0].shape)
        shape[axis] = sum(x.shape[axis] for x in xs)
        out = self.emit("concat", [self.as_perm(x, perm) for x in xs], [permuted(shape, perm)],
                        {"axis": perm.index(axis)})[0]
        return self.value(out, shape, perm)

    def split(self, x, sizes, axis):
        axis = axis % x.rank
        perm = x.perm if x.host is None else identity(x.rank)
        shapes = []
        for s in sizes:
            shape = list(x.shape)
            shape[axis] = s
            shapes.append(tuple(shape))
        outs = self.emit("split", [self.as_perm(x, perm)], [permuted(s, perm) for s in shapes],
                         {"axis": perm.index(axis), "sizes": list(sizes)})
        return [self.value(o, s, perm) for o, s in zip(outs, shapes)]

    def embedding(self, ids, table):
        shape = ids.shape + (table.shape[1],)
        out = self.emit("embedding", [self.plain(ids), self.plain(table)], [shape])[0]
        return self.value(out, shape)

    def cross_entropy(self, logits, labels, reduction):
        out = self.emit("softmax_cross_entropy", [self.plain(logits), self.plain(labels)], [()],
                        {"reduction": reduction})[0]
        return self.value(out, ())

    def rename(self, v, name, role=None):
        """Gives an op's output a name of its own (a graph output: 'output', 'grad/fc.weight')."""
        old = self.plain(v)
        t = self.graph.tensor(old)
        if t.role not in ("activation", "gradient") or self.graph.has_tensor(name):
            return old
        del self.graph._by_name[old]
        t.name = name
        self.graph._by_name[name] = t
        if role:
            t.role = role
        for op in self.graph.ops:
            op.inputs = [name if i == old else i for i in op.inputs]
            op.outputs = [name if o == old else o for o in op.outputs]
        return name
