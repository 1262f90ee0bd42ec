# SPDX-License-Identifier: MIT
"""Workload graphs in Python: the format of docs/graphs.md (version 1) as plain classes.

A `Graph` holds `Tensor`s and `Op`s in execution order, as runtime/graph/graph.h does; it is
written as the YAML or JSON the C++ reader takes (`Graph.save`), with the values of host
tensors (weights, example inputs) as .npy files in a folder next to it (the `data` key).
The C++ validator is the judge of a graph: `Graph.validate()` runs `dojosim run --plan` on it.
"""
import json
import os
import pathlib
import re
import subprocess

import numpy as np

FORMAT_VERSION = 1
DTYPES = ("fp32", "bf16", "cfp8", "int32")
ROLES = ("input", "weight", "activation", "gradient", "optimizer_state")
HOST_ROLES = ("input", "weight", "optimizer_state")


class GraphDataError(ValueError):
    """A tensor's .npy data that is missing or does not match its declaration."""


class Tensor:
    def __init__(self, name, shape, dtype="fp32", role="activation", data=None):
        if dtype not in DTYPES:
            raise ValueError("tensor '{}': dtype '{}'; expected one of {}".format(
                name, dtype, ", ".join(DTYPES)))
        if role not in ROLES:
            raise ValueError("tensor '{}': role '{}'; expected one of {}".format(
                name, role, ", ".join(ROLES)))
        self.name = name
        self.shape = tuple(int(d) for d in shape)
        self.dtype = dtype
        self.role = role
        self.data = data  # a numpy array of `shape` (host tensors only), or None

    def __repr__(self):
        return "Tensor({!r}, {}, {}, {})".format(self.name, list(self.shape), self.dtype,
                                                self.role)


class Op:
    def __init__(self, name, type, inputs, outputs, attributes=None):
        self.name = name
        self.type = type
        self.inputs = list(inputs)
        self.outputs = list(outputs)
        self.attributes = dict(attributes or {})

    def __repr__(self):
        return "Op({!r}, {}, {} -> {})".format(self.name, self.type, self.inputs, self.outputs)


def _data_file_name(tensor_name):
    # Tensor names may hold '/' and ':'; a file name keeps letters, digits, '_', '.', '-'.
    return re.sub(r"[^A-Za-z0-9_.-]", "_", tensor_name) + ".npy"


def _yaml_value(v):
    # Every string JSON-quoted (JSON is YAML), so names with ':' or '/' read back the same.
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_yaml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return _yaml_map(v)
    if isinstance(v, float):  # 1.0e-05, not 1e-05: YAML 1.1 readers take the latter as a word
        text = repr(v)
        mantissa, e, exponent = text.partition("e")
        return mantissa + ("" if "." in mantissa or not e else ".0") + e + exponent
    if isinstance(v, int):
        return str(v)
    plain = re.fullmatch(r"[A-Za-z_][A-Za-z0-9_./-]*", v) and v not in _YAML_WORDS
    return v if plain else json.dumps(v)


_YAML_WORDS = {"true", "false", "null", "yes", "no", "on", "off", "y", "n", "True", "False",
               "Null", "NULL", "TRUE", "FALSE", "Yes", "No", "On", "Off"}


def _yaml_map(d):
    return "{" + ", ".join("{}: {}".format(k, _yaml_value(v)) for k, v in d.items()) + "}"


class Graph:
    def __init__(self, name=""):
        self.version = FORMAT_VERSION
        self.name = name
        self.tensors = []
        self.ops = []
        self._by_name = {}

    # ---- building ----
    def add_tensor(self, name, shape, dtype="fp32", role="activation", data=None):
        if name in self._by_name:
            raise ValueError("tensor '{}' declared twice".format(name))
        t = Tensor(name, shape, dtype, role, data)
        self.tensors.append(t)
        self._by_name[name] = t
        return t

    def add_op(self, name, type, inputs, outputs, attributes=None):
        op = Op(name, type, inputs, outputs, attributes)
        self.ops.append(op)
        return op

    def tensor(self, name):
        return self._by_name[name]

    def has_tensor(self, name):
        return name in self._by_name

    def outputs(self):
        """Names of the produced tensors no op reads: the graph's results, in declaration order."""
        read = {i for op in self.ops for i in op.inputs}
        return [t.name for t in self.tensors if t.role not in HOST_ROLES and t.name not in read]

    # ---- writing ----
    def _tensor_entries(self, data_dir):
        out = []
        for t in self.tensors:
            e = {"name": t.name, "shape": list(t.shape), "dtype": t.dtype, "role": t.role}
            if t.data is not None and data_dir is not None:
                e["data"] = data_dir + "/" + _data_file_name(t.name)
            out.append(e)
        return out

    def _op_entries(self):
        out = []
        for op in self.ops:
            e = {"name": op.name, "type": op.type, "inputs": op.inputs, "outputs": op.outputs}
            if op.attributes:
                e["attributes"] = op.attributes
            out.append(e)
        return out

    def to_yaml(self, data_dir=None):
        """The graph as YAML, one line per tensor and op; `data` keys point into `data_dir`."""
        lines = ["version: {}".format(self.version)]
        if self.name:
            lines.append("name: {}".format(json.dumps(self.name)))
        lines.append("tensors:")
        lines += ["  - " + _yaml_map(e) for e in self._tensor_entries(data_dir)]
        lines.append("ops:")
        lines += ["  - " + _yaml_map(e) for e in self._op_entries()]
        return "\n".join(lines) + "\n"

    def to_json(self, data_dir=None):
        d = {"version": self.version}
        if self.name:
            d["name"] = self.name
        d["tensors"] = self._tensor_entries(data_dir)
        d["ops"] = self._op_entries()
        return json.dumps(d, indent=1) + "\n"

    def save(self, path, with_data=True):
        """Writes FILE.graph.yaml or FILE.graph.json; host tensors' values (when the graph has
        them and `with_data`) go to FILE.data/NAME.npy, named by the `data` keys."""
        path = pathlib.Path(path)
        if not re.search(r"\.graph\.(yaml|yml|json)$", path.name):
            raise ValueError("{}: a graph file is named *.graph.yaml or *.graph.json".format(path))
        stem = re.sub(r"\.graph\.(yaml|yml|json)$", "", path.name)
        has_data = with_data and any(t.data is not None for t in self.tensors)
        data_dir = stem + ".data" if has_data else None
        if has_data:
            folder = path.parent / data_dir
            folder.mkdir(parents=True, exist_ok=True)
            for t in self.tensors:
                if t.data is not None:
                    np.save(folder / _data_file_name(t.name),
                            np.array(t.data, dtype=_numpy_dtype(t.dtype), order="C"))
        text = self.to_json(data_dir) if path.name.endswith(".json") else self.to_yaml(data_dir)
        path.write_text(text)
        return path

    def validate(self, config="tiny", path=None):
        """Checks the graph with the C++ validator (`dojosim run --workload F --plan`); raises
        ValueError with its one-line message. Returns the summary it prints."""
        from . import _dojosim  # the compiled module knows where its `dojosim` binary is
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            f = path or os.path.join(d, "captured.graph.yaml")
            if path is None:
                self.save(f, with_data=False)
            done = subprocess.run([_dojosim.cli_path, "run", "--config", config, "--workload",
                                   str(f), "--plan"], capture_output=True, text=True)
        if done.returncode != 0:
            raise ValueError(done.stderr.strip())
        return done.stdout


def bf16_bound(graph, reference):
    """How far a bf16 run of `graph` may be from a float32 `reference` of its output (PyTorch's):
    (R + 2) x 2^-8 x max(1, max |reference|), R the ops that round (all but reshapes and
    transposes): one bf16 rounding (relative 2^-8) of the largest output per op, and of the input
    and the weights. A rule of thumb, not a proof: an op can amplify an earlier error
    (docs/python.md, "Running a graph")."""
    rounding = sum(op.type not in ("reshape", "transpose") for op in graph.ops)
    return (rounding + 2) * 2.0 ** -8 * max(1.0, float(np.abs(np.asarray(reference)).max()))


def _numpy_dtype(dtype):
    return np.int32 if dtype == "int32" else np.float32


def _yaml_load(text):
    """yaml.safe_load, with YAML 1.2's floats: PyYAML (YAML 1.1) reads 1e-05, which the
    simulator writes for an epsilon and yaml-cpp reads as a number, as a string."""
    import yaml  # python3-yaml

    class Loader(yaml.SafeLoader):
        pass
    Loader.add_implicit_resolver("tag:yaml.org,2002:float", re.compile(r"""^(?:
        [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""", re.X), list("-+0123456789."))
    return yaml.load(text, Loader=Loader)


def load(path):
    """Reads a graph file and the .npy files its `data` keys name (shapes and dtypes checked:
    GraphDataError naming the file and the tensor)."""
    path = pathlib.Path(path)
    text = path.read_text()
    if path.name.endswith(".json"):
        d = json.loads(text)
    else:
        d = _yaml_load(text)
    g = Graph(d.get("name", ""))
    for e in d.get("tensors", []):
        data = None
        if "data" in e:
            f = path.parent / e["data"]
            try:
                data = np.load(f, allow_pickle=False)
            except FileNotFoundError:
                raise GraphDataError("{}: tensor '{}': data file {} does not exist".format(
                    path, e["name"], f)) from None
            except ValueError as why:
                raise GraphDataError("{}: tensor '{}': {} is not a .npy file numpy reads: {}"
                                     .format(path, e["name"], f, why)) from None
            if tuple(data.shape) != tuple(e["shape"]):
                raise GraphDataError("{}: tensor '{}': {} has shape {}; the tensor is {}".format(
                    path, e["name"], f, list(data.shape), list(e["shape"])))
            if data.dtype not in (np.float32, np.float64, np.int32):
                raise GraphDataError(
                    "{}: tensor '{}': {} holds {}; expected float32, float64 or int32".format(
                        path, e["name"], f, data.dtype))
        g.add_tensor(e["name"], e["shape"], e["dtype"], e.get("role", "activation"), data)
    for e in d.get("ops", []):
        g.add_op(e["name"], e["type"], e["inputs"], e["outputs"], e.get("attributes"))
    return g
