# SPDX-License-Identifier: MIT
# dojosim.matmul: the result equals the C++ API's bit for bit, the report is the command line's,
# bad arguments raise with the C++ message, and many runs work in one Python process.
import numpy as np
import pytest

import dojosim
from conftest import TINY, api_run, cli_json, same_bits


def operands(rng, m, k, n):
    return (rng.uniform(-1, 1, (m, k)).astype(np.float32),
            rng.uniform(-1, 1, (k, n)).astype(np.float32))


@pytest.mark.parametrize("dtype,mapping", [("bf16", "auto"), ("bf16", "cannon"), ("cfp8", "1d"),
                                           ("fp32", "summa"), ("bf16", "ksplit")])
def test_result_equals_the_cpp_api_bit_for_bit(tmp_path, rng, dtype, mapping):
    a, b = operands(rng, 37, 70, 29)  # shapes that divide nothing
    c, report = dojosim.matmul(a, b, config=TINY, dtype=dtype, mapping=mapping)
    assert c.shape == (37, 29) and c.dtype == np.float32
    want = api_run(tmp_path, "matmul", dtype, mapping, (37, 70, 29), (a, b))
    assert same_bits(c, want)
    if mapping != "auto":
        assert report["mapping"] == mapping


def test_result_is_the_product_of_the_quantised_inputs(rng):
    a, b = operands(rng, 24, 64, 16)
    c, _ = dojosim.matmul(a, b, config=TINY, dtype="bf16")
    qa = dojosim.quantize(a, "bf16").astype(np.float64)
    qb = dojosim.quantize(b, "bf16").astype(np.float64)
    want = qa @ qb
    # fp32 accumulation of 64 terms: within 64 roundings of the sum of magnitudes.
    bound = 64 * 2.0 ** -24 * (np.abs(qa) @ np.abs(qb))
    assert np.all(np.abs(c - want) <= bound)
    assert not np.array_equal(qa, a.astype(np.float64))  # the inputs were rounded to bf16


def test_bias_is_added(rng):
    a, b = operands(rng, 8, 32, 8)
    bias = rng.uniform(-4, 4, 8).astype(np.float32)
    c0, _ = dojosim.matmul(a, b, config=TINY, dtype="fp32", mapping="summa")
    c1, _ = dojosim.matmul(a, b, bias, config=TINY, dtype="fp32", mapping="summa")
    assert np.allclose(c1, c0 + bias, atol=1e-5)
    assert not np.allclose(c1, c0)


def test_cfp8_layout_and_bias_are_applied(rng):
    a, b = operands(rng, 8, 32, 8)
    e4, _ = dojosim.matmul(a, b, config=TINY, dtype="cfp8")
    e5, _ = dojosim.matmul(a, b, config=TINY, dtype="cfp8", cfp8_layout="e5m2")
    assert not same_bits(e4, e5)
    qa = dojosim.quantize(a, "cfp8", cfp8_layout="e5m2").astype(np.float64)
    qb = dojosim.quantize(b, "cfp8", cfp8_layout="e5m2").astype(np.float64)
    assert np.allclose(e5, qa @ qb, rtol=1e-5, atol=1e-6)


def test_report_is_the_command_lines_report(tmp_path, rng):
    a, b = operands(rng, 64, 64, 64)
    _, report = dojosim.matmul(a, b, config=TINY, dtype="bf16")
    run = cli_json(tmp_path, "--config", TINY, "--workload", "matmul:M=64,N=64,K=64,dtype=bf16")
    want = run["report"]
    want.pop("checks")
    assert report == want  # the timing does not depend on the values
    assert report["cycles"] > 0 and 0 < report["utilisation_pct"] <= 100
    assert report["flop"] == 2 * 64 ** 3


def test_many_runs_in_one_process(rng):
    for i in range(6):
        m, k, n = 4 + 3 * i, 16 + 8 * i, 5 + i
        a = rng.integers(-8, 8, (m, k)).astype(np.float32)
        b = rng.integers(-8, 8, (k, n)).astype(np.float32)
        c, report = dojosim.matmul(a, b, config=TINY, dtype="fp32")
        assert np.array_equal(c, a @ b)  # small integers: exact in fp32
        assert report["cycles"] > 0


@pytest.mark.parametrize("call,error,message", [
    (lambda a, b: dojosim.matmul(a, b[:10], config=TINY), ValueError,
     r"a has shape \(8, 16\) and b \(10, 8\): a's columns \(16\) must equal b's rows \(10\)"),
    (lambda a, b: dojosim.matmul(a.ravel(), b, config=TINY), ValueError,
     r"a: expected 2 dimensions, got shape \(128,\)"),
    (lambda a, b: dojosim.matmul(a.astype(np.float64), b, config=TINY), TypeError,
     "a: expected a numpy float32 array, got float64"),
    (lambda a, b: dojosim.matmul(a, b, config=TINY, dtype="fp16"), ValueError,
     "dtype='fp16': expected bf16, cfp8 or fp32"),
    (lambda a, b: dojosim.matmul(a, b, config=TINY, mapping="suma"), ValueError,
     "mapping 'suma'"),
    (lambda a, b: dojosim.matmul(a, b, config=TINY, placement="dram"), ValueError,
     "placement='dram': expected auto, sram or host"),
    (lambda a, b: dojosim.matmul(a, b, np.ones(3, np.float32), config=TINY), ValueError,
     r"bias: has shape \(3,\): expected \(8,\)"),
    (lambda a, b: dojosim.matmul(a, b, config=TINY, dtype="cfp8", cfp8_bias=64), ValueError,
     "cfp8_bias=64: expected 0 to 63"),
    (lambda a, b: dojosim.matmul(a, b, config=dojosim.Config(TINY, ["noc.routng=yx"])),
     dojosim.ConfigError, "noc.routng"),
])
def test_bad_arguments_raise_with_the_message(rng, call, error, message):
    a, b = operands(rng, 8, 16, 8)
    with pytest.raises(error, match=message):
        call(a, b)


def test_a_matmul_too_large_for_the_machine_raises_before_running():
    a = np.zeros((4096, 4096), np.float32)
    with pytest.raises(ValueError, match="SRAM"):
        dojosim.matmul(a, a, config=TINY, placement="sram", mapping="summa")
