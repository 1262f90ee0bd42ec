# SPDX-License-Identifier: MIT
# The package itself: what it exposes, quantisation as documented, and a simulation that dies
# raising instead of taking the interpreter with it.
import numpy as np
import pytest

import dojosim
from conftest import TINY


def test_exposes_the_documented_calls():
    for name in dojosim.__all__:
        assert hasattr(dojosim, name), name
    assert dojosim.mappings()[0] == "auto"
    assert {"summa", "1d", "cannon", "ksplit"} <= set(dojosim.mappings())


def test_quantize_rounds_to_nearest_even():
    # 1e9 is 0x4E6E6B28 in fp32: the low half 0x6B28 is under half an ulp, so it rounds down.
    x = np.array([1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -9, -0.0, 1e9], np.float32)
    assert dojosim.quantize(x, "bf16").tolist() == [1.0, 1 + 2 ** -6, 1.0, -0.0, 998244352.0]
    assert dojosim.quantize(x, "fp32").tolist() == x.tolist()
    # cfp8 saturates at the largest finite value, 1.875 x 2^(15 - bias) for E4M3
    # (docs/formats.md): 480 with the default bias 7, 240 with bias 8.
    big = np.array([1000, 1.0625], np.float32)
    assert dojosim.quantize(big, "cfp8").tolist() == [480, 1.0]
    assert dojosim.quantize(big, "cfp8", cfp8_bias=8).tolist() == [240, 1.0]
    with pytest.raises(ValueError, match="cfp8_layout='e3m4'"):
        dojosim.quantize(x, "cfp8", cfp8_layout="e3m4")


def test_a_simulation_error_raises_runtime_error_and_the_next_run_works():
    a = np.ones((8, 16), np.float32)
    # An instruction limit the run cannot meet ends the machine run: the error comes back.
    with pytest.raises(RuntimeError):
        dojosim.matmul(a, a.T.copy(), config=dojosim.Config(TINY, ["sim.max_cycles=10"]))
    c, _ = dojosim.matmul(a, a.T.copy(), config=TINY, dtype="fp32")
    assert np.all(c == 16)
