"""The MLP: hidden = mlp_mult·d, a squared activation, zero-init output projection.

relu²: h = relu(W_1 x)² (modded-nanogpt; the baseline, #198, #295, #443, #601).
leaky_relu²: h = leaky_relu(W_1 x, slope)² — z² for z > 0 and slope²·z² for z < 0, non-negative and non-monotonic
(PR #1473 with slope 0.5; SPEC_SEEDS.md §1.3). Parameter names: mlp.fc.weight, mlp.proj.weight.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pgolf.model.layers import CastedLinear, zero_init

ACTIVATIONS = ("relu2", "leaky_relu2")


class MLP(nn.Module):
    def __init__(self, dim: int, mlp_mult: float, activation: str = "relu2", leaky_slope: float = 0.5):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown MLP activation {activation!r}; expected one of {ACTIVATIONS}")
        hidden = int(round(mlp_mult * dim))
        self.fc = CastedLinear(dim, hidden, bias=False)
        self.proj = zero_init(CastedLinear(hidden, dim, bias=False))
        self.activation = activation
        self.leaky_slope = leaky_slope

    def forward(self, x: Tensor) -> Tensor:
        h = self.fc(x)
        h = torch.relu(h) if self.activation == "relu2" else F.leaky_relu(h, negative_slope=self.leaky_slope)
        return self.proj(h.square())
