# SPDX-License-Identifier: MIT
"""`dojosim run --inputs ... --save DIR` (docs/cli.md): the saved result is the run of the given
operands (compared with numpy and PyTorch); the saved operands are the ones given."""
import numpy as np
import torch
import torch.nn.functional as F

from conftest import TINY, cli


def test_matmul_inputs_and_save(tmp_path, rng):
    a = rng.standard_normal((20, 24)).astype(np.float32)
    b = rng.standard_normal((24, 12))  # float64 is taken (rounded to float32)
    bias = rng.standard_normal(12).astype(np.float32)
    for name, x in (("a", a), ("b", b), ("bias", bias)):
        np.save(tmp_path / (name + ".npy"), x)
    status, out, err = cli("run", "--config", TINY, "--workload",
                           "matmul:M=20,N=12,K=24,dtype=fp32,bias=1", "--inputs",
                           "A={0}/a.npy,B={0}/b.npy,bias={0}/bias.npy".format(tmp_path),
                           "--save", str(tmp_path / "out"))
    assert status == 0, err
    assert "saved: A.npy, B.npy, bias.npy, C.npy" in out
    saved = {n: np.load(tmp_path / "out" / (n + ".npy")) for n in ("A", "B", "bias", "C")}
    assert np.array_equal(saved["A"], a) and np.array_equal(saved["B"], b.astype(np.float32))
    want = a.astype(np.float64) @ b.astype(np.float32) + bias
    assert np.abs(saved["C"] - want).max() < 1e-4


def test_conv2d_nchw_inputs(tmp_path, rng):
    x = rng.standard_normal((1, 4, 6, 6)).astype(np.float32)  # layout=nchw: [N, C, H, W]
    w = rng.standard_normal((3, 3, 4, 5)).astype(np.float32)  # [R, S, C, K]
    np.save(tmp_path / "x.npy", x)
    np.save(tmp_path / "w.npy", w)
    status, _, err = cli("run", "--config", TINY, "--workload",
                         "conv2d:N=1,H=6,W=6,C=4,K=5,R=3,S=3,pad=1,layout=nchw,dtype=fp32",
                         "--inputs", "x={0}/x.npy,w={0}/w.npy".format(tmp_path), "--save",
                         str(tmp_path))
    assert status == 0, err
    y = np.load(tmp_path / "y.npy")
    want = F.conv2d(torch.tensor(x), torch.tensor(w).permute(3, 2, 0, 1), padding=1).numpy()
    assert y.shape == (1, 5, 6, 6) and np.abs(y - want).max() < 1e-4


def test_int32_input_and_shape_error(tmp_path):
    np.save(tmp_path / "a.npy", np.arange(6, dtype=np.int32).reshape(2, 3))
    np.save(tmp_path / "b.npy", np.ones((3, 2), np.float32))
    status, _, err = cli("run", "--config", TINY, "--workload", "matmul:M=2,N=2,K=3,dtype=fp32",
                         "--inputs", "A={0}/a.npy,B={0}/b.npy".format(tmp_path), "--save",
                         str(tmp_path))
    assert status == 0, err
    assert np.array_equal(np.load(tmp_path / "C.npy"), [[3, 3], [12, 12]])
    status, _, err = cli("run", "--config", TINY, "--workload", "matmul:M=3,N=2,K=3,dtype=fp32",
                         "--inputs", "A={}/a.npy".format(tmp_path))
    assert status == 2
    assert err == "dojosim run: {}/a.npy: int32 has shape [2, 3]; matmul operand A needs " \
        "[3, 3]\n".format(tmp_path)
