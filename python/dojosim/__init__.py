# SPDX-License-Identifier: MIT
"""dojosim: the simulator of Dojo-style training hardware, from Python (docs/python.md).

    import numpy as np, dojosim
    cfg = dojosim.load_config("configs/tiny.yaml", set=["noc.routing=yx"])
    c, report = dojosim.matmul(a, b, config=cfg, dtype="bf16")   # a, b: numpy float32
    y, report = dojosim.conv2d(x, w, config=cfg, pad=1)
    records = dojosim.sweep("examples/05-sweep/noc_mapping.yaml", "out/noc", jobs=2)

    outputs, report = dojosim.run_graph("model.graph.yaml", config=cfg)  # or a captured graph

Workload graphs: dojosim.graph (the format), dojosim.torch.capture (PyTorch models),
dojosim.onnx.import_onnx (ONNX files), dojosim.graph_numpy.evaluate (the numpy reference);
`python3 -m dojosim.capture` on the command line. They import torch/onnx only when used.

Every simulation runs in a child process of its own (SystemC builds one machine per process),
so a notebook can call these as often as it likes. Bad arguments raise ValueError (or
TypeError for a wrong array type) with the simulator's message; a bad config raises
dojosim.ConfigError, a ValueError.
"""
import json
import os
import subprocess

from . import _dojosim

__all__ = ["Config", "ConfigError", "SweepSpecError", "load_config", "matmul", "conv2d",
           "quantize", "mappings", "sweep", "sweep_points", "run_graph", "train", "GraphRunError",
           "DTYPES"]

ConfigError = _dojosim.ConfigError
SweepSpecError = _dojosim.SweepSpecError
DTYPES = ("bf16", "cfp8", "fp32")


def _overrides(set):
    """`set` as a list of "key=value": a dict, a list of strings or None."""
    if set is None:
        return []
    if isinstance(set, dict):
        return ["{}={}".format(k, _yaml_value(v)) for k, v in set.items()]
    if isinstance(set, str):
        return [set]
    return [str(s) for s in set]


def _yaml_value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_yaml_value(x) for x in v) + "]"
    return str(v)


class Config:
    """A hardware config: a YAML file (configs/*.yaml; None: the built-in D1 die) and
    `--set`-style overrides applied after it, loaded and validated at once.

    values      every parameter, nested by key path ({"noc": {"routing": "xy", ...}, ...})
    parameters  [{key, value, unit, default, differs, set_at, status}] as `dojosim config show`
    derived     {key: {what, value, unit, published, tolerance, source}}: peak FLOP/s, SRAM, ...
    files       the YAML files read (bases first)
    """

    def __init__(self, path=None, set=None):
        self.path = None if path is None else os.fspath(path)
        self.overrides = _overrides(set)
        shown = json.loads(_dojosim.config_json(self.path or "", self.overrides))
        self.files = shown["files"]
        self.values = shown["config"]
        self.parameters = shown["parameters"]
        self.derived = {f["key"]: {k: v for k, v in f.items() if k != "key"}
                        for f in shown["derived"]}

    def __getitem__(self, key):
        """The value of one parameter by its dotted key: cfg["noc.link_bytes_per_cycle"]."""
        for p in self.parameters:
            if p["key"] == key:
                return p["value"]
        raise KeyError(key)

    def with_overrides(self, set):
        """A new Config: this one with more overrides after its own."""
        return Config(self.path, self.overrides + _overrides(set))

    def yaml(self):
        """The resolved config as YAML, loadable as a config file (`config show --yaml`)."""
        return _dojosim.config_yaml(self.path or "", self.overrides)

    def __repr__(self):
        return "dojosim.Config({!r}, set={!r})".format(self.path, self.overrides)


def load_config(path=None, set=None):
    """The config at `path` (None: the built-in D1 die) with `set` overrides ("key=value"
    strings or a dict). Raises ConfigError naming the file, line, key and what was allowed."""
    return Config(path, set)


def _config(config):
    if config is None:
        return Config()
    if isinstance(config, Config):
        return config
    return Config(config)


def matmul(a, b, bias=None, *, config=None, dtype="bf16", mapping="auto", placement="auto",
           k_chunk=0, cfp8_layout="e4m3", cfp8_bias=None):
    """C = a @ b (+ bias) on the machine of `config`, as `dojosim run --workload matmul:...`.

    a (M, K), b (K, N), bias (N,): numpy float32, quantised to `dtype` (bf16, cfp8 or fp32; round
    to nearest even, cfp8 saturating, in `cfp8_layout` e4m3 or e5m2 with `cfp8_bias`, default
    the layout's) as the nodes store them; C is float32, accumulated in fp32 on the nodes.
    mapping: "auto" (the estimate's choice) or one of mappings(); placement: auto, sram, host.
    Returns (C, report): the report is the JSON "report" of `dojosim run --json`
    (docs/outputs.md): cycles, flop_per_s, utilisation_pct, the time split, traffic, mapping,
    grid, estimates. The run happens in a child process.
    """
    c = _config(config)
    result, report = _dojosim.matmul(c.path or "", c.overrides, a, b, bias, dtype, mapping,
                                     placement, int(k_chunk), cfp8_layout,
                                     -1 if cfp8_bias is None else int(cfp8_bias))
    return result, json.loads(report)


def conv2d(x, w, bias=None, *, stride=1, pad=0, dilation=1, layout="nhwc", config=None,
           dtype="bf16", mapping="auto", placement="auto", k_chunk=0, cfp8_layout="e4m3",
           cfp8_bias=None):
    """A 2-D convolution on the machine of `config`, as `dojosim run --workload conv2d:...`
    (im2col + a matmul mapping; docs/runtime.md).

    x: (N, H, W, C) for layout "nhwc", (N, C, H, W) for "nchw"; w: (R, S, C, K) (HWIO);
    bias: (K,); all numpy float32, quantised as in matmul(). stride, pad, dilation: a whole
    number or a pair (height, width). Returns (y, report) with y (N, P, Q, K) for nhwc or
    (N, K, P, Q) for nchw, float32.
    """
    c = _config(config)
    result, report = _dojosim.conv2d(c.path or "", c.overrides, x, w, bias, stride, pad, dilation,
                                     layout, dtype, mapping, placement, int(k_chunk), cfp8_layout,
                                     -1 if cfp8_bias is None else int(cfp8_bias))
    return result, json.loads(report)


def quantize(x, dtype, cfp8_layout="e4m3", cfp8_bias=None):
    """The values a node stores for float32 `x` in `dtype`: the rounding matmul and conv2d
    apply to their inputs (docs/formats.md)."""
    return _dojosim.quantize(x, dtype, cfp8_layout, -1 if cfp8_bias is None else int(cfp8_bias))


def mappings():
    """The matmul mappings by name: "auto", then every registered one (docs/runtime.md)."""
    return _dojosim.mappings()


def sweep_points(spec):
    """The points of a sweep spec (docs/sweep.md) without running them: {"spec", "base",
    "metrics", "points": [{index, id, workload, axes, describe}]}. Raises SweepSpecError naming
    the spec file, line and key."""
    return json.loads(_dojosim.sweep_points(os.fspath(spec)))


def sweep(spec, out, jobs=1, timeout=None):
    """Runs a sweep spec into the output directory `out` (resumed if it holds the same sweep),
    `jobs` points at a time, with the `dojosim sweep` command line, and returns its records in
    point order: dicts {id, index, workload, axes, status, exit_code, error, wall_seconds,
    stats: {metric: value}} (docs/sweep.md). A point that fails is a record whose status says
    why; a bad spec raises SweepSpecError, a sweep that cannot run RuntimeError."""
    spec = os.fspath(spec)
    out = os.fspath(out)
    sweep_points(spec)  # a bad spec raises here, with the C++ message
    cli = os.environ.get("DOJOSIM_CLI", _dojosim.cli_path)
    cmd = [cli, "sweep", spec, "-o", out, "-j", str(int(jobs))]
    if timeout is not None:
        cmd += ["--timeout", str(timeout)]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if done.returncode not in (0, 1):
        lines = done.stderr.strip().splitlines()
        raise RuntimeError(lines[0] if lines else
                           "dojosim sweep exited with status {}".format(done.returncode))
    with open(os.path.join(out, "results.jsonl")) as f:
        records = [json.loads(line) for line in f if line.endswith("\n")]
    return sorted(records, key=lambda r: r["index"])


class GraphRunError(RuntimeError):
    """A graph run that started and stopped: the machine trapped or deadlocked, or an op's
    result differs from its reference (the message names the op)."""


def run_graph(graph, *, config=None, set=None, inputs=None, trace=None, backward=False,
              optimizer=None, loss=None, loss_scale=None, data_parallel=None,
              tensor_parallel=None, parallel=None):
    """Runs a workload graph (docs/graphs.md) in one machine run, as `dojosim run --workload
    FILE.graph.yaml`: every op as node kernels on the machine of `config`, each op's outputs
    checked bit for bit against its reference and within its float64 bound.

    graph: a graph file (*.graph.yaml / *.graph.json, with its data files) or a
    dojosim.graph.Graph (a capture: saved to a temporary folder with its data first).
    set: overrides after the config's. inputs: {tensor name: numpy array} for host tensors
    (inputs, weights, optimizer state), over the graph's own data. trace: a path for the run's
    Perfetto trace. backward=True appends the graph's backward (`--backward`): every weight's
    gradient becomes an output grad/NAME; optimizer ("sgd:lr=0.1", "adamw:lr=1e-3,step=2")
    makes the run a training step (`--optimizer`): outputs next/NAME and next/state/NAME/...;
    loss names the tensor the backward starts from (default: the graph's one output);
    loss_scale (`--loss-scale`) starts the backward from that multiple of d loss, divided out of
    every gradient before the update; or, with optimizer, "dynamic[:init=..][,growth=..]
    [,backoff=..][,interval=..]" scales dynamically as PyTorch's GradScaler does (on the
    machine): a step whose gradients overflow skips its updates (its next/ weights and state are
    the ones it was given) and backs the scale off; interval good steps in a row grow it. The
    scale and the count of good steps are state: inputs state/loss_scale (default init) and
    state/loss_scale_good_steps (default 0), outputs next/state/...; report["run"]["step"]
    ["loss_scale"] says the scale the step used and whether it skipped its updates ("skipped":
    True or False; "unknown" in a timing-only run). A bf16 weight W trains as an fp32 master weight
    master/W (outputs next/master/W), its working copy made by stochastic rounding.
    data_parallel (`--data-parallel`, with optimizer) runs the step on that many equal
    rectangles of the mesh at once, each with its own batch of the graph's size (an input given
    with data_parallel times the graph's first axis: group g takes its g-th part); gradients
    are averaged over the groups before the updates. Outputs that differ between the groups
    (the loss) come with a leading axis of the groups (report["run"]["totals"]
    ["varying_outputs"]); the updated weights are every group's.
    tensor_parallel (`--tensor-parallel`) splits the graph's pairs of linear layers over that
    many equal rectangles of the mesh (the first layer's output columns, the second's input
    rows), each with the whole batch; a split output (an updated weight) comes back whole.
    Both: data_parallel replicas of tensor_parallel groups each (the leading axis of a varying
    output is then the replicas').
    parallel="auto" (`--parallel auto`, with optimizer, neither count given) chooses both counts
    by estimate: report["parallel_choice"] lists every placement planned, the chosen one with
    "chosen": True.
    Returns (outputs, report): outputs {name: numpy float32 array of the tensor's shape} for
    the graph's outputs; report the `--json` document: "workload", "config", "plan" and "run"
    (per op: cycles, kernel and move cycles, peak %, bytes moved; the graph's totals).
    A bad graph, input or config raises ValueError with the simulator's one-line message; a run
    that stops raises GraphRunError. The run happens in a child process.
    """
    import tempfile
    import numpy as np
    held = [t.name for t in getattr(graph, "tensors", []) if t.role == "gradient"]
    if held and (backward or optimizer):
        raise ValueError("graph '{}' holds its backward already ({}, ...); run it as it is, "
                         "or {} a capture with train=True, backward=False (the forward)".format(
                             graph.name, held[0], "train" if optimizer else "differentiate"))
    c = _config(config)
    overrides = c.overrides + _overrides(set)
    with tempfile.TemporaryDirectory(prefix="dojosim-graph-") as d:
        if isinstance(graph, (str, os.PathLike)):
            path = os.fspath(graph)
        else:
            path = os.path.join(d, "graph.graph.yaml")
            graph.save(path)
        cmd = [os.environ.get("DOJOSIM_CLI", _dojosim.cli_path), "run", "--workload", path,
               "--json", os.path.join(d, "run.json"), "--save", os.path.join(d, "out")]
        if c.path is not None:
            cmd += ["--config", c.path]
        for s in overrides:
            cmd += ["--set", s]
        if inputs:
            given = []
            for i, (name, value) in enumerate(sorted(inputs.items())):
                f = os.path.join(d, "input{}.npy".format(i))
                np.save(f, np.asarray(value))
                given.append("{}={}".format(name, f))
            cmd += ["--inputs", ",".join(given)]
        if trace is not None:
            cmd += ["--trace", os.fspath(trace)]
        if backward:
            cmd += ["--backward"]
        if optimizer is not None:
            cmd += ["--optimizer", optimizer]
        if loss is not None:
            cmd += ["--loss", loss]
        if isinstance(loss_scale, str):
            cmd += ["--loss-scale", loss_scale]
        elif loss_scale is not None:
            cmd += ["--loss-scale", repr(float(loss_scale))]
        if data_parallel is not None:
            cmd += ["--data-parallel", str(int(data_parallel))]
        if tensor_parallel is not None:
            cmd += ["--tensor-parallel", str(int(tensor_parallel))]
        if parallel is not None:
            cmd += ["--parallel", str(parallel)]
        os.makedirs(os.path.join(d, "out"))
        done = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        message = (done.stderr.strip().splitlines() or
                   ["dojosim run exited with status {}".format(done.returncode)])[0]
        message = message[len("dojosim run: "):] if message.startswith("dojosim run: ") else message
        if done.returncode == 2:
            raise ValueError(message)
        if done.returncode != 0:
            raise GraphRunError(message)
        with open(os.path.join(d, "run.json")) as f:
            report = json.load(f)
        outputs = {name: np.load(os.path.join(d, "out", name + ".npy"))
                   for name in report["run"]["outputs"]}
    return outputs, report


def train(graph, *, optimizer, steps, config=None, set=None, inputs=None, loss=None,
          loss_scale=None):
    """Trains `graph` for `steps` training steps, each one machine run of the step (forward,
    backward, every weight's update: run_graph(..., optimizer=...)), the weights and the
    optimizer state each step writes fed to the next. optimizer: "sgd:lr=0.1[,momentum=..]" or
    "adamw:lr=1e-3[,...]" (the step number is counted here: AdamW's bias correction, and the
    stochastic rounding of bf16 weights' working copies draws anew each step). inputs: host
    tensors' values for every step (the batch; weights to start from). The optimizer state
    starts at zero; loss_scale as run_graph's: with "dynamic[:...]" the scale and its count of
    good steps are state fed from step to step like the optimizer's, and a step that skips its
    updates does not count (AdamW's step number is that of the updates applied, as PyTorch's
    optimizer.step() is not called on a skipped step).

    Returns (losses, weights, reports): the loss of each step (the value of `loss`, default the
    graph's one output, before the step's update), the weights after the last step {name: numpy
    array; a bf16 weight's fp32 master}, and each step's report (run_graph's)."""
    import numpy as np
    values = dict(inputs or {})
    losses, reports = [], []
    applied = 0  # updates applied so far (a skipped step's do not count)
    for _ in range(steps):
        spec = optimizer + ("," if ":" in optimizer else ":") + "step={}".format(applied + 1)
        outputs, report = run_graph(graph, config=config, set=set, inputs=values,
                                    optimizer=spec, loss=loss, loss_scale=loss_scale)
        reports.append(report)
        updated = {name[len("next/"):]: v for name, v in outputs.items()
                   if name.startswith("next/")}
        # Besides the updates, the loss; "bwd/" outputs are gradients the backward made and
        # nobody needs (a first layernorm's dx).
        rest = [name for name in outputs if not name.startswith(("next/", "bwd/"))]
        name = loss or (rest[0] if len(rest) == 1 else None)
        if name is None:
            raise ValueError("the step has outputs {} besides the updates: name the loss".format(
                rest))
        losses.append(float(np.asarray(outputs[name]).reshape(-1)[0]))
        values.update(updated)
        applied += report["run"]["step"].get("loss_scale", {}).get("skipped") is not True
    weights = {k[len("master/"):] if k.startswith("master/") else k: v
               for k, v in values.items() if k in updated and not k.startswith("state/")}
    return losses, weights, reports
