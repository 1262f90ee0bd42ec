# SPDX-License-Identifier: MIT
"""ONNX import: an .onnx model to a workload graph (docs/graphs.md, docs/python.md), with the
same op mapping as the PyTorch capture (python/dojosim/_lower.py) and the same errors.

    g = dojosim.onnx.import_onnx("mlp.onnx", inputs={"x": x})   # x: numpy, optional

Initializers become weights (with their values); graph inputs become inputs, with `inputs`'
values when given. Every ONNX node maps to graph ops (_ONNX below) or is refused with a
CaptureError naming the op type and the node.
"""
import re

import numpy as np
import onnx
from onnx import numpy_helper

from ._lower import Builder, CaptureError, Value

__all__ = ["import_onnx", "CaptureError"]


def _attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pads(b, at):
    pads = list(at.get("pads", [0, 0, 0, 0]))
    if pads[:2] != pads[2:]:
        raise CaptureError("{}: asymmetric pads {}; the graph pads both sides alike".format(
            b.where(), pads))
    if at.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise CaptureError("{}: auto_pad {}; give explicit pads".format(b.where(),
                                                                         at["auto_pad"]))
    return pads[:2]


def _conv(b, at, x, w, bias=None):
    k = list(at.get("kernel_shape", w.shape[2:]))
    if len(k) != 2:
        raise CaptureError("{}: a {}-D Conv; only 2-D maps to conv2d".format(b.where(), len(k)))
    return b.conv2d(x, w, bias, list(at.get("strides", [1, 1])), _pads(b, at),
                    list(at.get("dilations", [1, 1])), at.get("group", 1))


def _gemm(b, at, a, w, c=None):
    if at.get("alpha", 1.0) != 1.0 or at.get("beta", 1.0) != 1.0:
        raise CaptureError("{}: Gemm with alpha or beta other than 1".format(b.where()))
    if at.get("transA", 0):
        a = b.transpose(a, [1, 0])
    if at.get("transB", 0):
        w = b.transpose(w, [1, 0])
    y = b.matmul(a, w)
    if c is None:
        return y
    return b.bias_add(y, c, -1) if c.rank == 1 else b.binary("add", y, c)


def _matmul(b, at, x, y):
    if y.rank == 2:
        return b.matmul(x, y)
    return b.matmul(x, y, batch=True)


def _pool(kind):
    def lower(b, at, x):
        if at.get("ceil_mode", 0) or list(at.get("dilations", [1, 1])) != [1, 1]:
            raise CaptureError("{}: {} with ceil_mode or dilations".format(b.where(), kind))
        k = list(at["kernel_shape"])
        pad = _pads(b, at)
        return b.pool(kind, x, k, list(at.get("strides", k)), pad,
                      bool(at.get("count_include_pad", 0)) and pad != [0, 0])
    return lower


def _flatten(b, at, x):
    axis = at.get("axis", 1) % max(x.rank, 1)
    return b.reshape(x, [int(np.prod(x.shape[:axis])), int(np.prod(x.shape[axis:]))])


def _reshape(b, at, x, shape):
    if shape.host is None:
        raise CaptureError("{}: Reshape to a shape computed in the graph (a dynamic shape); "
                           "export with constant shapes".format(b.where()))
    shape = [int(d) for d in shape.host.data]
    shape = [x.shape[i] if d == 0 else d for i, d in enumerate(shape)]
    if -1 in shape:
        known = int(np.prod([d for d in shape if d != -1]))
        shape[shape.index(-1)] = int(np.prod(x.shape)) // known
    return b.reshape(x, shape)


def _softmax(b, at, x):
    axis = at.get("axis", -1) % x.rank
    if axis != x.rank - 1:
        raise CaptureError("{}: Softmax along axis {} of {}; the last axis maps".format(
            b.where(), axis, x.rank))
    return b.row_op("softmax", x, [], {})


def _batchnorm(b, at, x, scale, bias, mean, var):
    """training_mode 1: batchnorm_train with the batch's statistics; the node's optional outputs
    (the running statistics, updated with momentum) are not computed: reading them is refused."""
    if at.get("training_mode", 0):
        return b.batchnorm_train(x, scale, bias, at.get("epsilon", 1e-5))
    return b.batchnorm(x, scale, bias, mean, var, at.get("epsilon", 1e-5))


def _div(b, at, x, y):
    if y.host is None:
        raise CaptureError("{}: Div by a computed tensor has no graph op".format(b.where()))
    return b.binary("mul", x, b.host(y.host.name + ".reciprocal", 1.0 / y.host.data))


def _layernorm(b, at, x, scale, bias=None):
    if at.get("axis", -1) % x.rank != x.rank - 1:
        raise CaptureError("{}: LayerNormalization over more than the last axis".format(
            b.where()))
    bias = bias if bias is not None else b.constant(np.zeros(scale.shape, np.float32))
    return b.row_op("layernorm", x, [scale, bias], {"epsilon": float(at.get("epsilon", 1e-5))})


def _computed(b, env, name):
    """The value of an ONNX tensor; one the import does not compute is refused."""
    if name not in env:
        raise CaptureError("{}: reads '{}', which no graph tensor holds (a BatchNormalization in "
                           "training mode: its running statistics are not computed)".format(
                               b.where(), name))
    return env[name]


_ONNX = {
    "Conv": _conv,
    "Gemm": _gemm,
    "MatMul": _matmul,
    "Add": lambda b, at, x, y: b.binary("add", x, y),
    "Sub": lambda b, at, x, y: b.binary("sub", x, y),
    "Mul": lambda b, at, x, y: b.binary("mul", x, y),
    "Div": _div,
    "Relu": lambda b, at, x: b.unary("relu", x),
    "BatchNormalization": _batchnorm,
    "LayerNormalization": _layernorm,
    "MaxPool": _pool("max_pool"),
    "AveragePool": _pool("avg_pool"),
    "GlobalAveragePool": lambda b, at, x: b.global_avg_pool(x, True),
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Transpose": lambda b, at, x: b.transpose(x, at.get("perm", list(range(x.rank))[::-1])),
    "Softmax": _softmax,
    "Concat": lambda b, at, *xs: b.concat(list(xs), at["axis"]),
    "Identity": lambda b, at, x: x,
    "Dropout": lambda b, at, x, *rest: x,  # inference: the identity
}


def supported_onnx_ops():
    return sorted(_ONNX)


def _op_path(node, i):
    name = node.name or "{}_{}".format(node.op_type, i)
    return re.sub(r"[^A-Za-z0-9_.\-/:]", "_", name.strip("/")) or node.op_type


def import_onnx(path_or_model, inputs=None, dtype="bf16", name=None):
    """The graph of an ONNX model (a file name or an onnx.ModelProto). `inputs`: numpy values
    of the graph's inputs by name (carried as their data); shapes must be fixed numbers."""
    model = onnx.load(path_or_model) if isinstance(path_or_model, str) else path_or_model
    g = model.graph
    b = Builder(name or g.name or "onnx", dtype)
    b.path_kind = "node"
    inputs = inputs or {}
    env = {}
    for t in g.initializer:
        data = numpy_helper.to_array(t)
        kind = "int32" if data.dtype.kind in "iu" else "float"
        env[t.name] = b.host(t.name, data.astype(np.int32 if kind == "int32" else np.float32),
                             "weight", kind)
    for vi in g.input:
        if vi.name in env:
            continue
        tt = vi.type.tensor_type
        shape = []
        for d in tt.shape.dim:
            if not d.HasField("dim_value"):
                raise CaptureError("input '{}': dimension '{}' is not a number (a dynamic "
                                   "shape); export with fixed shapes".format(vi.name, d.dim_param))
            shape.append(d.dim_value)
        kind = "float" if tt.elem_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE,
                                           onnx.TensorProto.FLOAT16) else "int32"
        data = None
        if vi.name in inputs:
            data = np.asarray(inputs[vi.name])
            if tuple(data.shape) != tuple(shape):
                raise CaptureError("input '{}': values of shape {}; the model's input is {}"
                                   .format(vi.name, list(data.shape), shape))
            data = data.astype(np.float32 if kind == "float" else np.int32)
        env[vi.name] = b.host(vi.name, data, "input", kind, shape)
    for i, node in enumerate(g.node):
        b.path = _op_path(node, i)
        if node.op_type == "Constant":
            value = numpy_helper.to_array(_attrs(node)["value"])
            kind = "int32" if value.dtype.kind in "iu" else "float"
            env[node.output[0]] = b.host("const." + b.path, value, "input", kind)
            continue
        fn = _ONNX.get(node.op_type)
        if fn is None:
            raise CaptureError("{}: ONNX op {} has no graph op in dojosim (runtime/graph/ops.def;"
                               " dojosim.onnx.supported_onnx_ops() lists what maps)".format(
                                   b.where(), node.op_type))
        args = [_computed(b, env, n) if n else None for n in node.input]
        out = fn(b, _attrs(node), *args)
        outs = out if isinstance(out, (list, tuple)) else [out]
        for n, v in zip(node.output, outs):
            env[n] = v
    b.path = ""
    outputs = [o.name for o in g.output]
    for o in outputs:
        b.rename(_computed(b, env, o), "output" if len(outputs) == 1 else o)
    return b.graph
