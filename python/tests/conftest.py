# SPDX-License-Identifier: MIT
# Shared by the package's tests: where the sources and the programs the tests compare with are.
import json
import os
import pathlib
import subprocess

import numpy as np
import pytest

import dojosim
from dojosim import _dojosim

ROOT = pathlib.Path(__file__).resolve().parents[2]
TINY = str(ROOT / "configs" / "tiny.yaml")
D1 = str(ROOT / "configs" / "d1.yaml")


@pytest.fixture
def rng():
    return np.random.default_rng(17)


def cli(*args):
    """`dojosim ARGS...` of the build the package belongs to: (status, stdout, stderr)."""
    done = subprocess.run([_dojosim.cli_path, *args], capture_output=True, text=True)
    return done.returncode, done.stdout, done.stderr


def cli_json(tmp_path, *args):
    """The --json file of `dojosim run ARGS...`."""
    out = tmp_path / "run.json"
    status, _, err = cli("run", *args, "--json", str(out))
    assert status == 0, err
    return json.loads(out.read_text())


def api_run(tmp_path, kind, dtype, mapping, sizes, operands):
    """The result of the C++ API (python/tests/api_run.cpp) on the same operands, as float32."""
    files = []
    for i, x in enumerate(operands):
        f = tmp_path / "in{}.f32".format(i)
        np.ascontiguousarray(x, dtype=np.float32).tofile(f)
        files.append(str(f))
    out = tmp_path / "out.f32"
    done = subprocess.run([os.environ["DOJOSIM_API_RUN"], kind, TINY, dtype, mapping,
                           *map(str, sizes), *files, str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return np.fromfile(out, dtype=np.float32)


def same_bits(x, y):
    """Whether two float32 arrays are equal bit for bit (so -0.0 != 0.0, NaN == NaN)."""
    x = np.ascontiguousarray(x, dtype=np.float32).ravel()
    y = np.ascontiguousarray(y, dtype=np.float32).ravel()
    return x.shape == y.shape and bool(np.array_equal(x.view(np.uint32), y.view(np.uint32)))
