# SPDX-License-Identifier: MIT
# dojosim.sweep_points and dojosim.sweep: the points of a spec and the records of its run, as
# `dojosim sweep` writes them; a bad spec raises with the C++ message.
import json

import pytest

import dojosim
from conftest import ROOT, TINY, cli

SPEC = """\
base: {base}
axes:
  noc.link_bytes_per_cycle: [32, 64]
workloads:
  - {{name: mm, workload: "matmul:M=32,N=32,K=64"}}
  - {{name: conv, workload: "conv2d:N=1,H=6,W=6,C=8,K=8,R=3,S=3,pad=1"}}
metrics: [cycles, flop_per_s, mesh_link_bytes]
"""


@pytest.fixture
def spec(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text(SPEC.format(base=TINY))
    return path


def test_points_are_the_command_lines(spec):
    points = dojosim.sweep_points(spec)
    assert [(p["workload"], p["axes"]["noc.link_bytes_per_cycle"]) for p in points["points"]] == [
        ("mm", "32"), ("conv", "32"), ("mm", "64"), ("conv", "64")]
    status, out, err = cli("sweep", str(spec), "--dry-run")
    assert status == 0, err
    for p in points["points"]:
        assert "{} {} {}".format(p["index"], p["id"], p["describe"]) in out


def test_sweep_returns_every_record_in_order(spec, tmp_path):
    records = dojosim.sweep(spec, tmp_path / "out", jobs=2)
    assert [r["index"] for r in records] == [0, 1, 2, 3]
    assert all(r["status"] == "ok" for r in records), records
    written = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").open()]
    assert sorted(written, key=lambda r: r["index"]) == records
    mm32, mm64 = records[0]["stats"], records[2]["stats"]
    assert mm32["cycles"] > 0 and mm32["mesh_link_bytes"] == mm64["mesh_link_bytes"]
    # A second call resumes: nothing runs again, the same records come back.
    assert dojosim.sweep(spec, tmp_path / "out") == records


def test_a_failing_point_is_a_record_not_an_exception(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_text("base: {}\naxes:\n  noc.link_bytes_per_cycle: [64, 3]\n"
                    "workloads:\n  - {{name: mm, workload: \"matmul:M=16,N=16,K=32\"}}\n"
                    .format(TINY))
    records = dojosim.sweep(path, tmp_path / "out")
    assert [r["status"] for r in records] == ["ok", "input-error"]
    assert "noc.link_bytes_per_cycle" in records[1]["error"]


def test_bad_spec_raises_with_file_line_and_key(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("base: {}\naxes:\n  noc.link_bytes_per_cylce: [32]\n"
                    "workloads:\n  - {{name: mm, workload: \"matmul:M=8,N=8,K=8\"}}\n".format(TINY))
    with pytest.raises(dojosim.SweepSpecError, match="bad.yaml:3: axes.noc.link_bytes_per_cylce"):
        dojosim.sweep_points(path)
    with pytest.raises(ValueError, match="unknown config key"):
        dojosim.sweep(path, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_example_spec_loads():
    points = dojosim.sweep_points(ROOT / "examples" / "05-sweep" / "noc_mapping.yaml")
    assert len(points["points"]) > 1
