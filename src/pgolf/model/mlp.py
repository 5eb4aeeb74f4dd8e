"""The MLP: hidden = mlp_mult·d, relu² activation, zero-init output projection (modded-nanogpt; the baseline)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from pgolf.model.layers import CastedLinear, zero_init


class MLP(nn.Module):
    def __init__(self, dim: int, mlp_mult: float, activation: str = "relu2"):
        super().__init__()
        hidden = int(round(mlp_mult * dim))
        self.fc = CastedLinear(dim, hidden, bias=False)
        self.proj = zero_init(CastedLinear(hidden, dim, bias=False))
        if activation != "relu2":
            raise ValueError(f"unknown MLP activation {activation!r}")
        self.activation = activation

    def forward(self, x: Tensor) -> Tensor:
        return self.proj(torch.relu(self.fc(x)).square())
