# SPDX-License-Identifier: MIT
# dojosim.conv2d: the result equals the C++ API's bit for bit in NHWC and NCHW, the report is
# the command line's, bad arguments raise with the C++ message.
import numpy as np
import pytest

import dojosim
from conftest import TINY, api_run, cli_json, same_bits


def operands(rng, n=2, h=9, w=7, c=5, k=6, r=3, s=3):
    return (rng.uniform(-1, 1, (n, h, w, c)).astype(np.float32),
            rng.uniform(-1, 1, (r, s, c, k)).astype(np.float32))


@pytest.mark.parametrize("dtype,mapping,stride,pad",
                         [("bf16", "auto", 1, 1), ("cfp8", "summa", 2, 0), ("fp32", "1d", 1, 2)])
def test_result_equals_the_cpp_api_bit_for_bit(tmp_path, rng, dtype, mapping, stride, pad):
    x, w = operands(rng)
    y, _ = dojosim.conv2d(x, w, stride=stride, pad=pad, config=TINY, dtype=dtype, mapping=mapping)
    p = (9 + 2 * pad - 3) // stride + 1
    q = (7 + 2 * pad - 3) // stride + 1
    assert y.shape == (2, p, q, 6) and y.dtype == np.float32
    want = api_run(tmp_path, "conv2d", dtype, mapping, (2, 9, 7, 5, 6, 3, 3, stride, pad), (x, w))
    assert same_bits(y, want)


def test_nchw_is_the_same_convolution(rng):
    x, w = operands(rng)
    y, _ = dojosim.conv2d(x, w, pad=1, config=TINY)
    y_nchw, _ = dojosim.conv2d(np.ascontiguousarray(x.transpose(0, 3, 1, 2)), w, pad=1,
                               layout="nchw", config=TINY)
    assert y_nchw.shape == (2, 6, 9, 7)
    assert same_bits(y_nchw.transpose(0, 2, 3, 1), y)


def test_result_is_the_convolution_of_the_quantised_inputs(rng):
    x, w = operands(rng, n=1, h=6, w=6, c=4, k=3)
    bias = rng.uniform(-1, 1, 3).astype(np.float32)
    y, _ = dojosim.conv2d(x, w, bias, config=TINY, dtype="fp32")
    want = np.zeros((1, 4, 4, 3))
    for i in range(4):
        for j in range(4):
            window = x[0, i:i + 3, j:j + 3, :].astype(np.float64)
            want[0, i, j] = np.tensordot(window, w.astype(np.float64), axes=3) + bias
    assert np.allclose(y, want, rtol=1e-5, atol=1e-5)


def test_report_is_the_command_lines_report(tmp_path, rng):
    x, w = operands(rng)
    _, report = dojosim.conv2d(x, w, pad=1, config=TINY)
    run = cli_json(tmp_path, "--config", TINY, "--workload",
                   "conv2d:N=2,H=9,W=7,C=5,K=6,R=3,S=3,pad=1")
    want = run["report"]
    want.pop("checks")
    assert report == want


@pytest.mark.parametrize("kwargs,error,message", [
    (dict(w=np.zeros((3, 3, 4, 6), np.float32)), ValueError, r"with C = 4: they must agree"),
    (dict(layout="hwcn"), ValueError, "layout='hwcn': expected nhwc or nchw"),
    (dict(x=np.zeros((2, 2, 2, 5), np.float32)), ValueError, "conv2d"),
    (dict(stride=0), ValueError, "stride"),
    (dict(pad=(1, 2, 3)), ValueError, "pad: expected a whole number or a pair"),
    (dict(bias=np.zeros(5, np.float32)), ValueError, r"bias: has shape \(5,\): expected \(6,\)"),
    (dict(x=np.zeros((9, 7, 5), np.float32)), ValueError, "x: expected 4 dimensions"),
    (dict(dtype="int8"), ValueError, "dtype='int8'"),
])
def test_bad_arguments_raise_with_the_message(rng, kwargs, error, message):
    x, w = operands(rng)
    args = dict(x=x, w=w, config=TINY)
    args.update(kwargs)
    with pytest.raises(error, match=message):
        dojosim.conv2d(**args)
