"""EMA and SWA against averages computed directly from the recorded weight trajectory."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from pgolf.config import Config, override, validate
from pgolf.errors import PgolfError
from pgolf.train.averaging import EMA, SWA, EMAConfig, SWAConfig, apply_average, build_averager


def _model():
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(6, 5), nn.Linear(5, 3, bias=False))
    m[1].weight.data = m[1].weight.data.bfloat16().float()
    return m


def _trajectory(model, steps, scales, out=None):
    """Drive the model through `steps` random updates, recording the weights after each step (fp64) in `out`."""
    g = torch.Generator().manual_seed(1)
    out = [] if out is None else out
    for k in range(steps):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn(p.shape, generator=g) * 0.1)
        out.append({n: v.detach().double().clone() for n, v in model.state_dict().items()})
        yield k + 1, scales[k], out


def test_ema_equals_the_direct_recursion():
    model = _model()
    init = {n: v.double().clone() for n, v in model.state_dict().items()}
    ema = EMA(model, EMAConfig(decay=0.9))
    hist = []
    for step, scale, _ in _trajectory(model, 12, [1.0] * 12, hist):
        ema.update(model, step, scale)
    d = 0.9
    for n, v in ema.averaged().items():
        want = init[n] * d ** 12 + sum((1 - d) * d ** (12 - k) * w[n] for k, w in enumerate(hist, 1))
        assert v.dtype == torch.float32
        assert torch.allclose(v.double(), want, atol=1e-6)


def test_swa_averages_exactly_the_qualifying_snapshots():
    model = _model()
    scales = [1.0, 0.9, 0.7, 0.5, 0.45, 0.39, 0.3, 0.2, 0.1, 0.05, 0.02, 0.0]
    swa = SWA(model, SWAConfig(every=2, threshold=0.4))
    taken = []
    for step, scale, hist in _trajectory(model, 12, scales):
        swa.update(model, step, scale)
        if scale < 0.4 and step % 2 == 0:
            taken.append(hist[-1])
    assert swa.count == len(taken) == 4  # steps 6, 8, 10, 12
    for n, v in swa.averaged().items():
        assert torch.allclose(v.double(), sum(w[n] for w in taken) / 4, atol=1e-6)
    apply_average(model, swa)
    for n, v in model.state_dict().items():
        assert torch.allclose(v.double(), sum(w[n] for w in taken) / 4, atol=1e-6)


def test_swa_with_one_snapshot_keeps_the_last_weights():
    model = _model()
    swa = SWA(model, SWAConfig(every=5, threshold=0.5))
    for step, scale, _ in _trajectory(model, 6, [1, 1, 1, 1, 0.1, 0.1]):
        swa.update(model, step, scale)
    before = {n: v.clone() for n, v in model.state_dict().items()}
    assert swa.count == 1 and apply_average(model, swa) is False
    assert all(torch.equal(v, before[n]) for n, v in model.state_dict().items())


def test_averager_state_round_trips():
    model = _model()
    for cls, cfg in ((EMA, EMAConfig(0.8)), (SWA, SWAConfig(1, 1.0))):
        a, b = cls(model, cfg), cls(model, cfg)
        for step, scale, _ in _trajectory(model, 3, [0.5] * 3):
            a.update(model, step, scale)
        b.load_state_dict(a.state_dict())
        for step, scale, _ in _trajectory(model, 2, [0.5] * 2):
            a.update(model, step, scale)
            b.update(model, step, scale)
        assert all(torch.equal(a.averaged()[k], b.averaged()[k]) for k in a.averaged())


def test_exactly_one_averager():
    assert build_averager(_model(), None, None) is None
    with pytest.raises(PgolfError, match="at most one of train.ema and train.swa"):
        validate(override(Config(), {"train.ema": "on", "train.swa": "on"}))
    assert validate(override(Config(), {"train.ema.decay": 0.99})).train.ema.decay == 0.99
