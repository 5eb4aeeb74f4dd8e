"""Global-norm clipping: torch's coefficient, and a coefficient that does not depend on how gradients are split."""

from __future__ import annotations

import torch

from pgolf.optim.clip import clip_global_


def _grads(seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(s, generator=g) for s in ((64, 32), (32,), (7, 64, 16), ())]


def test_matches_torch_clip_grad_norm():
    for max_norm in (0.3, 1e6):
        ours = _grads()
        params = [torch.nn.Parameter(torch.zeros_like(t)) for t in ours]
        for p, t in zip(params, _grads()):
            p.grad = t
        want = torch.nn.utils.clip_grad_norm_(params, max_norm)
        got = clip_global_(ours, max_norm)
        assert torch.allclose(got.float(), want, rtol=1e-6)
        for t, p in zip(ours, params):
            assert torch.allclose(t, p.grad, rtol=1e-6, atol=0)
        if max_norm > 1e5:
            assert all(torch.equal(t, u) for t, u in zip(ours, _grads()))  # coefficient 1: untouched


def test_coefficient_is_independent_of_the_split():
    """A stack split into two 'rank shards' gets bitwise the coefficient of the whole (sums in float64)."""
    whole = torch.randn(10, 48, 48, generator=torch.Generator().manual_seed(3))
    a = [whole.clone()]
    b = [t.clone() for t in whole.split([3, 7])]
    c = [m.clone() for m in whole]
    clip_global_(a, 0.5), clip_global_(b, 0.5), clip_global_(c[:4], 0.5, sharded=c[4:])
    assert torch.equal(torch.cat(b), a[0]) and torch.equal(torch.stack(c), a[0])
    assert not torch.equal(a[0], whole)
