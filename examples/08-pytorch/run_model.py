#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Tutorial 08: a PyTorch model on the simulator. Captures torchvision's ResNet-18 (random
weights: nothing is downloaded), runs it on a machine in one run, compares the result with
PyTorch's and prints where the machine's time went, op by op.

    PYTHONPATH=build/python /usr/bin/python3 examples/08-pytorch/run_model.py [--config d1]
"""
import argparse
import pathlib
import sys

import numpy as np
import torch
import torchvision

import dojosim
import dojosim.graph
import dojosim.torch

ROOT = pathlib.Path(__file__).resolve().parents[2]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="d1", help="a config in configs/ or a YAML file")
    parser.add_argument("--image", type=int, default=64, help="input height and width")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--ops", type=int, default=8, help="the slowest ops to list")
    args = parser.parse_args()
    config = args.config if args.config.endswith(".yaml") else str(
        ROOT / "configs" / (args.config + ".yaml"))

    # 1. The model and an input, as any PyTorch user has them. Seeded: the same run each time.
    torch.manual_seed(0)
    model = torchvision.models.resnet18(weights=None).eval()
    x = torch.randn(args.batch, 3, args.image, args.image)
    with torch.no_grad():
        want = model(x).numpy()

    # 2. Capture: the aten ops the model runs become a workload graph (docs/graphs.md), its
    #    weights and input carried along as data.
    graph = dojosim.torch.capture(model, (x,))
    print("captured {}: {} ops, {} tensors".format(type(model).__name__, len(graph.ops),
                                                   len(graph.tensors)))

    # 3. One machine run: every op as node kernels, activations resident in SRAM, weights from
    #    HBM; each op checked bit for bit against its reference as it runs.
    outputs, report = dojosim.run_graph(graph, config=config)
    got = outputs["output"]

    # 4. Compare with PyTorch: bf16 storage rounds at every op, so the two agree to bf16's
    #    precision (dojosim.graph.bf16_bound; docs/python.md, "Running a graph"), not bit for bit.
    err = float(np.abs(got.astype(np.float64) - want).max())
    bound = dojosim.graph.bf16_bound(graph, want)
    print("output {}: max |machine - PyTorch| {:.2g}, bf16 bound {:.2g} (max |PyTorch| {:.2g}): {}"
          .format(list(got.shape), err, bound, float(np.abs(want).max()),
                  "within" if err <= bound else "OUTSIDE"))
    print("same class as PyTorch for every image: {}".format(
        bool((got.argmax(1) == want.argmax(1)).all())))
    within = err <= bound

    # 5. Where the time went.
    totals = report["run"]["totals"]
    print("graph: {:,} cycles ({:.1f} us), {:.2f}% of peak; kernels {:,} cycles, moves {:,}"
          .format(totals["cycles"], totals["seconds"] * 1e6, totals["peak_pct"],
                  totals["kernel_cycles"], totals["move_cycles"]))
    print("slowest ops:")
    print("  {:<28} {:<16} {:>9} {:>9} {:>9} {:>6}".format("op", "type", "cycles", "kernel",
                                                          "moves", "%peak"))
    ops = sorted(report["run"]["ops"], key=lambda o: -o["cycles"])[:args.ops]
    for o in ops:
        print("  {:<28} {:<16} {:>9,} {:>9,} {:>9,} {:>6.1f}".format(
            o["op"][:28], o["type"], o["cycles"], o["kernel_cycles"], o["move_cycles"],
            o["peak_pct"]))
    return 0 if within else 1


if __name__ == "__main__":
    sys.exit(main())
