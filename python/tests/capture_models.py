# SPDX-License-Identifier: MIT
"""Models the capture and ONNX tests share: an MLP, a small CNN, a GPT-2-style block, and a
model whose backward maps onto the graph's ops (linear layers and a square)."""
import math

import torch


def mlp():
    return torch.nn.Sequential(torch.nn.Linear(32, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))


def cnn():
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
        torch.nn.MaxPool2d(2), torch.nn.Conv2d(8, 16, 3, stride=2, padding=1), torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(16, 10))


class Square(torch.nn.Module):
    def forward(self, x):
        return x * x


def square_mlp():
    """Linear, x*x, Linear without biases: a model whose backward is matmul, mul and add."""
    return torch.nn.Sequential(torch.nn.Linear(16, 32, bias=False), Square(),
                               torch.nn.Linear(32, 8, bias=False))


class GPT2Block(torch.nn.Module):
    """One GPT-2 block: pre-norm causal self-attention and a tanh-GELU MLP, as GPT-2 writes it
    (the causal mask a constant added to the scores, -1e4 above the diagonal)."""

    def __init__(self, d_model=64, heads=4, seq=16):
        super().__init__()
        self.heads = heads
        self.ln_1 = torch.nn.LayerNorm(d_model)
        self.c_attn = torch.nn.Linear(d_model, 3 * d_model)
        self.c_proj = torch.nn.Linear(d_model, d_model)
        self.ln_2 = torch.nn.LayerNorm(d_model)
        self.c_fc = torch.nn.Linear(d_model, 4 * d_model)
        self.mlp_proj = torch.nn.Linear(4 * d_model, d_model)
        self.register_buffer("mask", torch.triu(torch.full((seq, seq), -1e4), 1))

    def forward(self, x):
        b, s, d = x.shape
        h = self.heads
        q, k, v = self.c_attn(self.ln_1(x)).split(d, dim=2)
        q, k, v = (t.view(b, s, h, d // h).transpose(1, 2) for t in (q, k, v))
        scores = q @ k.transpose(-2, -1) * (1.0 / math.sqrt(d // h)) + self.mask
        y = (torch.softmax(scores, dim=-1) @ v).transpose(1, 2).reshape(b, s, d)
        x = x + self.c_proj(y)
        mlp = self.mlp_proj(torch.nn.functional.gelu(self.c_fc(self.ln_2(x)), approximate="tanh"))
        return x + mlp
