# SPDX-License-Identifier: MIT
"""The capture's command line: a model from a Python factory to a graph file.

    python3 -m dojosim.capture torchvision.models:resnet18 --input-shape 1,3,224,224 \\
        -o resnet18.graph.yaml [--train [--backward aten]] [--dtype bf16] [--no-data]
    python3 -m dojosim.capture model.onnx -o model.graph.yaml

MODULE:FACTORY names a function (or class) that returns a torch.nn.Module when called with no
arguments (torchvision's model builders are called with weights=None: nothing is downloaded).
Inputs are random normal (seeded), of each --input-shape given. A .onnx file is imported instead.
Errors are one line on stderr and exit status 2.
"""
import argparse
import importlib
import inspect
import sys


def _factory(spec):
    module, _, attr = spec.partition(":")
    if not module or not attr:
        raise ValueError("'{}': expected MODULE:FACTORY, e.g. torchvision.models:resnet18"
                         .format(spec))
    try:
        m = importlib.import_module(module)
    except ImportError as why:
        raise ValueError("{}: cannot import module '{}': {}".format(spec, module, why)) from None
    fn = m
    for part in attr.split("."):
        if not hasattr(fn, part):
            raise ValueError("{}: module '{}' has no '{}'".format(spec, module, attr))
        fn = getattr(fn, part)
    kwargs = {}
    try:
        if "weights" in inspect.signature(fn).parameters:
            kwargs["weights"] = None  # torchvision: random weights, nothing downloaded
    except (TypeError, ValueError):
        pass
    return fn(**kwargs)


def _shape(text):
    try:
        shape = [int(d) for d in text.split(",")]
    except ValueError:
        shape = []
    if not shape or min(shape) < 1:
        raise argparse.ArgumentTypeError(
            "'{}': expected sizes separated by commas, e.g. 1,3,224,224".format(text))
    return shape


def main(argv=None):
    p = argparse.ArgumentParser(prog="python3 -m dojosim.capture",
                                description="Capture a PyTorch model (or import an ONNX file) "
                                "as a dojosim workload graph (docs/python.md).")
    p.add_argument("model", help="MODULE:FACTORY returning a torch.nn.Module, or FILE.onnx")
    p.add_argument("--input-shape", type=_shape, action="append", default=[],
                   help="the shape of an example input (repeat for several inputs)")
    p.add_argument("-o", "--output", required=True, help="FILE.graph.yaml or FILE.graph.json")
    p.add_argument("--train", action="store_true",
                   help="forward and backward of one step (gradients as outputs)")
    p.add_argument("--backward", default="autodiff", choices=["autodiff", "aten"],
                   help="with --train: the simulator's autodiff appends the backward "
                   "(default), or PyTorch's own is traced (aten)")
    p.add_argument("--dtype", default="bf16", choices=["bf16", "fp32", "cfp8"],
                   help="the graph's float dtype (default bf16)")
    p.add_argument("--no-data", action="store_true",
                   help="write the graph only, not the weights and inputs as .npy")
    p.add_argument("--seed", type=int, default=0, help="seed of the example inputs")
    args = p.parse_args(argv)
    try:
        if args.model.endswith(".onnx"):
            from . import onnx as donnx
            if args.train:
                raise ValueError("--train is for PyTorch models; an ONNX file is inference")
            graph = donnx.import_onnx(args.model, dtype=args.dtype)
        else:
            if not args.input_shape:
                raise ValueError("give --input-shape (e.g. 1,3,224,224) for the example input")
            import torch
            from . import torch as dtorch
            torch.manual_seed(args.seed)
            model = _factory(args.model)
            if not isinstance(model, torch.nn.Module):
                raise ValueError("{} returned a {}, not a torch.nn.Module".format(
                    args.model, type(model).__name__))
            inputs = tuple(torch.randn(*s) for s in args.input_shape)
            if args.backward == "aten" and not args.train:
                raise ValueError("--backward aten is the backward of --train; give --train")
            graph = dtorch.capture(model, inputs, train=args.train, dtype=args.dtype,
                                   backward="aten" if args.backward == "aten" else True)
        path = graph.save(args.output, with_data=not args.no_data)
    except Exception as why:  # every failure is one line: the capture's errors name op and path
        print("dojosim.capture: {}".format(why).splitlines()[0], file=sys.stderr)
        return 2
    print("dojosim.capture: {} ops, {} tensors -> {}".format(len(graph.ops), len(graph.tensors),
                                                           path))
    return 0


if __name__ == "__main__":
    sys.exit(main())
