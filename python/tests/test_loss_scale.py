# SPDX-License-Identifier: MIT
"""Dynamic loss scaling (docs/graphs.md, "Training"): PyTorch's GradScaler on the machine. A
step whose gradients overflow skips its updates (the weights, masters and optimizer state come
back bit for bit) and halves the scale; `interval` good steps in a row double it; the scale and
the count are state the steps feed forward; data-parallel groups skip together; a timing-only
run takes the cycles of a run with values."""
import numpy as np
import pytest

import dojosim
import dojosim.graph
from conftest import ROOT, TINY

# A bf16 MLP (784 -> 256, gelu, -> 10, cross-entropy): bf16 weights train as fp32 masters.
MLP = str(ROOT / "tests" / "runtime" / "graph" / "data" / "mlp.graph.json")
HUGE = 2.0 ** 127  # a scale whose first steps overflow
DYNAMIC = "dynamic:init={!r},interval=3".format(HUGE)


def gradscaler(found_inf, init, growth=2.0, backoff=0.5, interval=2000):
    """torch.cuda.amp.GradScaler's rule (_amp_update_scale_) in fp32 on the host: the scale each
    step uses and the count of good steps after it, given whether each step found an Inf/NaN."""
    scale, good, scales, goods = np.float32(init), 0, [], []
    for found in found_inf:
        scales.append(float(scale))
        if found:
            scale, good = np.float32(scale * np.float32(backoff)), 0
        else:
            good += 1
            if good == interval:
                with np.errstate(over="ignore"):
                    grown = np.float32(scale * np.float32(growth))
                scale = grown if np.isfinite(grown) else scale
                good = 0
        goods.append(good)
    return scales, goods


def batch(scale, rows=32, seed=5):
    """The MLP's inputs: images of this magnitude (large ones make the scaled gradients overflow)
    and labels."""
    rng = np.random.default_rng(seed)
    return {"images": (rng.uniform(-1, 1, (rows, 784)) * scale).astype(np.float32),
            "labels": rng.integers(0, 10, rows).astype(np.int32)}


def overflows(values, scale):
    """Whether the step's gradients, scaled by `scale` (static: the same products for a power of
    two), hold an Inf or NaN: a separate run of the backward alone."""
    given = {k: v for k, v in values.items() if not k.startswith(("state/", "master/"))}
    for k, v in values.items():  # the working copies the step would start from (to nearest)
        if k.startswith("master/"):
            given[k[len("master/"):]] = v
    outputs, _ = dojosim.run_graph(MLP, config=TINY, backward=True, loss_scale=scale,
                                   inputs=given)
    return any(not np.isfinite(v).all() for k, v in outputs.items() if k.startswith("grad/"))


def test_overflowing_steps_are_skipped_bit_for_bit_and_the_scale_follows_gradscaler():
    values = batch(100.0)
    losses, scales, goods, skipped = [], [], [], []
    applied = 0
    for _ in range(8):
        outputs, report = dojosim.run_graph(
            MLP, config=TINY, inputs=values, loss_scale=DYNAMIC,
            optimizer="sgd:lr=0.001,momentum=0.9,step={}".format(applied + 1))
        assert report["run"]["totals"]["checked"] is True
        s = report["run"]["step"]["loss_scale"]
        losses.append(float(outputs["loss"]))
        scales.append(s["scale"])
        skipped.append(s["skipped"])
        goods.append(float(outputs["next/state/loss_scale_good_steps"]))
        assert s["next_scale"] == float(outputs["next/state/loss_scale"])
        updated = {k[len("next/"):]: v for k, v in outputs.items() if k.startswith("next/")}
        if s["skipped"]:
            # Masters and momentum as they were, bit for bit (the first step's were made up:
            # its masters are W's values, its momentum zero).
            for name, v in updated.items():
                if name.startswith("state/loss_scale"):
                    continue
                if name in values:
                    assert v.tobytes() == np.asarray(values[name], np.float32).tobytes(), name
                elif name.startswith("state/fc"):
                    assert not v.any(), name
        else:
            applied += 1
        values.update(updated)
    # The first steps overflow and are skipped with the scale halving, then the steps apply.
    assert skipped[:2] == [True, True] and not skipped[-1], skipped
    assert all(a == b for a, b, s in zip(losses, losses[1:], skipped) if s), losses
    first = skipped.index(False)
    assert losses[-1] < losses[first] / 10, losses
    # Overflow or not, as a separate backward at the step's scale says; the scales and counts
    # are GradScaler's for those.
    want_scales, want_goods = gradscaler(skipped, HUGE, interval=3)
    assert scales == want_scales and goods == want_goods, (scales, want_scales, goods)
    assert max(scales[first:]) > scales[first], scales  # grown after 3 good steps
    values = batch(100.0)
    assert overflows(values, HUGE) and not overflows(values, scales[first])


def test_train_feeds_the_scale_forward_and_counts_only_applied_updates():
    losses, weights, reports = dojosim.train(
        MLP, optimizer="adamw:lr=0.001", steps=5, config=TINY, inputs=batch(100.0),
        loss_scale=DYNAMIC)
    steps = [r["run"]["step"]["loss_scale"] for r in reports]
    skipped = [s["skipped"] for s in steps]
    assert skipped[0] is True and skipped[-1] is False, skipped
    assert [s["scale"] for s in steps] == gradscaler(skipped, HUGE, interval=3)[0]
    assert losses[-1] < losses[skipped.index(False)]
    assert "state/loss_scale" not in weights and "fc1.w" in weights


def test_data_parallel_groups_skip_together():
    """Two groups, each with its own batch: only group 1's overflows, and both skip (the check
    follows the gradients' all-reduce), so the weights stay every group's, bit for bit."""
    small, big = batch(1.0, seed=6), batch(100.0, seed=5)
    inputs = {k: np.concatenate([small[k], big[k]]) for k in small}
    rng = np.random.default_rng(9)
    for name, shape in [("fc1.w", (784, 256)), ("fc1.b", (256,)), ("fc2.w", (256, 10)),
                        ("fc2.b", (10,))]:
        inputs["master/" + name] = rng.uniform(-0.05, 0.05, shape).astype(np.float32)
    outputs, report = dojosim.run_graph(MLP, config=TINY, inputs=inputs, data_parallel=2,
                                        optimizer="sgd:lr=0.001,momentum=0.9",
                                        loss_scale=DYNAMIC)
    assert report["run"]["totals"]["checked"] is True
    assert report["run"]["step"]["loss_scale"]["skipped"] is True
    assert report["run"]["totals"]["varying_outputs"] == ["loss"]
    for name in ["fc1.w", "fc1.b", "fc2.w", "fc2.b"]:
        assert outputs["next/master/" + name].tobytes() == inputs["master/" + name].tobytes()
    assert float(outputs["next/state/loss_scale"]) == HUGE / 2
    # With small batches in both groups the step applies, in both alike.
    inputs.update({k: np.concatenate([small[k], small[k]]) for k in small})
    outputs, report = dojosim.run_graph(MLP, config=TINY, inputs=inputs, data_parallel=2,
                                        optimizer="sgd:lr=0.001,momentum=0.9",
                                        loss_scale="dynamic:init=65536")
    assert report["run"]["step"]["loss_scale"]["skipped"] is False
    assert report["run"]["totals"]["varying_outputs"] == ["loss"]
    assert outputs["next/master/fc1.w"].tobytes() != inputs["master/fc1.w"].tobytes()


def test_a_timing_only_run_takes_the_cycles_of_a_run_with_values():
    """The skip is a select on the machine, not a branch: the same cycles whether a step skips
    or applies, and with values off (where whether it skipped is unknown)."""
    cycles = {}
    for name, scale, values in [("skips", HUGE, "on"), ("applies", 1.0, "on"),
                                ("timing only", HUGE, "off")]:
        _, report = dojosim.run_graph(MLP, config=TINY, inputs=batch(100.0),
                                      set=["sim.values=" + values],
                                      optimizer="sgd:lr=0.001", loss_scale="dynamic:init={!r}"
                                      .format(scale))
        cycles[name] = report["run"]["totals"]["cycles"]
        skipped = report["run"]["step"]["loss_scale"]["skipped"]
        assert skipped == {"skips": True, "applies": False, "timing only": "unknown"}[name]
    assert len(set(cycles.values())) == 1, cycles


def scalar_graph(op, inputs, outputs, attributes=None):
    g = dojosim.graph.Graph(op)
    for name in inputs:
        g.add_tensor(name, (), "fp32", "input")
    for name in outputs:
        g.add_tensor(name, (), "fp32")
    g.add_op(op, op, list(inputs), list(outputs), attributes)
    return g


@pytest.mark.parametrize("check, scale, good", [
    (0.0, 1024.0, 0.0), (np.nan, 1024.0, 1.0), (np.inf, 1024.0, 1.0), (0.0, 1024.0, 3.0),
    (0.0, 3e38, 3.0), (-0.0, 0.75, 2.0)])
def test_the_scale_update_is_gradscalers_rule(check, scale, good):
    g = scalar_graph("loss_scale_update", ["check", "scale", "good"], ["next", "next_good"],
                     {"interval": 4, "growth": 2.0, "backoff": 0.5})
    outputs, report = dojosim.run_graph(g, config=TINY, inputs={
        "check": np.float32(check), "scale": np.float32(scale), "good": np.float32(good)})
    assert report["run"]["totals"]["checked"] is True
    # GradScaler's rule from a count of `good` (the host model above starts from 0).
    want_scale, want_good = np.float32(scale), good + 1
    if not np.isfinite(check):
        want_scale, want_good = np.float32(np.float32(scale) * np.float32(0.5)), 0.0
    elif good + 1 == 4:
        with np.errstate(over="ignore"):
            grown = np.float32(np.float32(scale) * np.float32(2))
        want_scale, want_good = (grown if np.isfinite(grown) else np.float32(scale)), 0.0
    assert float(outputs["next"]) == float(want_scale) and float(outputs["next_good"]) == want_good


@pytest.mark.parametrize("check, scale", [(0.0, 65536.0), (np.nan, 65536.0), (0.0, 3.0)])
def test_the_unscale_factor_is_the_reciprocal_or_nan(check, scale):
    g = scalar_graph("unscale_factor", ["check", "scale"], ["factor"])
    outputs, _ = dojosim.run_graph(g, config=TINY, inputs={"check": np.float32(check),
                                                           "scale": np.float32(scale)})
    f = float(outputs["factor"])
    assert np.isnan(f) if np.isnan(check) else f == float(np.float32(1) / np.float32(scale))


def test_tensor_parallel_groups_skip_together():
    """Each tensor-parallel group checks its parts of the split weights; the checks are summed
    over the groups (check.allreduce), so all skip, and the weights come back whole as given."""
    inputs = batch(100.0)
    rng = np.random.default_rng(9)
    for name, shape in [("fc1.w", (784, 256)), ("fc1.b", (256,)), ("fc2.w", (256, 10)),
                        ("fc2.b", (10,))]:
        inputs["master/" + name] = rng.uniform(-0.05, 0.05, shape).astype(np.float32)
    outputs, report = dojosim.run_graph(MLP, config=TINY, inputs=inputs, tensor_parallel=2,
                                        optimizer="sgd:lr=0.001", loss_scale=DYNAMIC)
    assert report["run"]["totals"]["checked"] is True
    assert "check.allreduce" in [o["op"] for o in report["run"]["ops"]]
    assert report["run"]["step"]["loss_scale"]["skipped"] is True
    for name in ["fc1.w", "fc1.b", "fc2.w", "fc2.b"]:
        assert outputs["next/master/" + name].tobytes() == inputs["master/" + name].tobytes()
