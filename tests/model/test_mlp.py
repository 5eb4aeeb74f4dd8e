"""The MLP (model/mlp.py): relu² and leaky-relu² against their formulas."""

from __future__ import annotations

import pytest
import torch

from pgolf.model.mlp import MLP


@pytest.mark.parametrize("act", ["relu2", "leaky_relu2"])
def test_mlp_activation_formula(act):
    mlp = MLP(8, 2.0, act, 0.5)
    with torch.no_grad():
        mlp.proj.weight.normal_()
    x = torch.randn(3, 8)
    z = x @ mlp.fc.weight.T
    h = torch.where(z > 0, z * z, (0.25 * z * z) if act == "leaky_relu2" else torch.zeros_like(z))
    assert torch.allclose(mlp(x), h @ mlp.proj.weight.T, atol=1e-6)
