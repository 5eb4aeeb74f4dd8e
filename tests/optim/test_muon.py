"""Muon against torch.optim.Muon (where the conventions coincide) and a direct per-matrix implementation (elsewhere)."""

from __future__ import annotations

import pytest
import torch

from pgolf.optim.muon import NS5, POLAR_EXPRESS, Muon, newton_schulz5, ns_coefficients, orthogonalize

# ---------------------------------------------------------------- a direct, per-matrix reference (written here)


def ref_ns(G: torch.Tensor, coeffs, dtype=torch.bfloat16) -> torch.Tensor:
    """One matrix, the seeds' loop; each sum fused into one addmm as torch.optim.Muon does."""
    X = G.to(dtype)
    t = X.size(0) > X.size(1)
    if t:
        X = X.T
    X = X / (X.norm() + 1e-7)
    for a, b, c in coeffs:
        A = X @ X.T
        X = torch.addmm(X, torch.addmm(A, A, A, beta=b, alpha=c), X, beta=a)
    return X.T if t else X


def ref_rownorm(U: torch.Tensor) -> torch.Tensor:
    u = U.float()
    return (u / u.norm(dim=1, keepdim=True).clamp_min(1e-7)).to(U.dtype)


class RefMuon:
    """Per-matrix Muon: a list of matrices (3-D tensors are split), fp32 momentum, one NS call per matrix."""

    def __init__(self, params, lr, mu, wd, coeffs, nesterov=True, row_norm="none"):
        self.params, self.lr, self.mu, self.wd, self.coeffs = params, lr, mu, wd, coeffs
        self.nesterov, self.row_norm = nesterov, row_norm
        self.bufs = [torch.zeros_like(p) for p in params]

    @torch.no_grad()
    def step(self):
        for p, buf in zip(self.params, self.bufs):
            mats = [(p.data, p.grad, buf)] if p.ndim == 2 else list(zip(p.data, p.grad, buf))
            for w, g, b in mats:
                b.mul_(self.mu).add_(g)
                u = g + self.mu * b if self.nesterov else b.clone()
                if self.row_norm == "before_ns":
                    u = ref_rownorm(u)
                x = ref_ns(u, self.coeffs)
                x = x * max(1.0, w.size(0) / w.size(1)) ** 0.5
                if self.row_norm == "after_ns":
                    x = ref_rownorm(x)
                w.mul_(1 - self.lr * self.wd)
                w.add_(x.to(w.dtype), alpha=-self.lr)


def _params(shapes, seed=0):
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(*s, generator=g) * 0.1) for s in shapes]


def _grads(params, step):
    g = torch.Generator().manual_seed(1000 + step)
    return [torch.randn(p.shape, generator=g) for p in params]


SHAPES = [(32, 16), (32, 16), (16, 32), (24, 24), (3, 40, 16), (24, 24), (48, 16)]


@pytest.mark.parametrize("ns,row_norm,nesterov", [
    ("ns5", "none", True), ("polar_express", "none", True), ("ns5", "after_ns", True),
    ("polar_express", "before_ns", True), ("ns5", "none", False)])
def test_batched_muon_equals_per_matrix_reference(ns, row_norm, nesterov):
    """Stacked same-shape matrices (and a 3-D bank) give bitwise the per-matrix result, over several steps."""
    ours, ref_p = _params(SHAPES), _params(SHAPES)
    coeffs = ns_coefficients(ns, 5)
    opt = Muon(ours, lr=0.05, momentum=0.9, ns_steps=5, nesterov=nesterov, weight_decay=0.1, ns=ns,
               row_norm=row_norm)
    ref = RefMuon(ref_p, 0.05, 0.9, 0.1, coeffs, nesterov, row_norm)
    for k in range(4):
        for p, q, g in zip(ours, ref_p, _grads(ours, k)):
            p.grad, q.grad = g.clone(), g.clone()
        opt.step()
        ref.step()
    for p, q in zip(ours, ref_p):
        assert torch.equal(p.data, q.data)
    assert all(not torch.equal(p.data, q.data) for p, q in zip(ours, _params(SHAPES)))  # it moved


@pytest.mark.parametrize("mu", [0.5, 0.95])
def test_matches_torch_optim_muon_where_conventions_coincide(mu):
    """torch's Muon keeps buf ← μ·buf + (1−μ)·g and steps along g.lerp(buf, μ): our Nesterov update times (1−μ),
    which the Frobenius normalisation removes; NS5 with the same fused addmm iteration; the 'original' LR
    adjustment √max(1, rows/cols) (= 1 for rows ≤ cols, where our in-bf16 shape scale is also 1); decoupled WD
    p·(1 − lr·wd). With μ = 0.5 the (1−μ) factor is exact in floating point and the runs agree bitwise; with
    μ = 0.95 the scaled inputs round differently to bf16, which NS amplifies to ~2% of the step."""
    shapes = [(16, 32), (24, 24), (32, 48)]
    ours, theirs, plain = _params(shapes), _params(shapes), _params(shapes)
    start = [p.detach().clone() for p in ours]
    o1 = Muon(ours, lr=0.02, momentum=mu, weight_decay=0.1)
    o2 = torch.optim.Muon(theirs, lr=0.02, momentum=mu, weight_decay=0.1, nesterov=True,
                          ns_coefficients=NS5, ns_steps=5, adjust_lr_fn="original")
    o3 = Muon(plain, lr=0.02, momentum=mu, weight_decay=0.1, nesterov=False)  # a different convention
    for k in range(5):
        for ps in (ours, theirs, plain):
            for p, g in zip(ps, _grads(ps, k)):
                p.grad = g.clone()
        o1.step(), o2.step(), o3.step()
    for p, q, r, s in zip(ours, theirs, plain, start):
        if mu == 0.5:
            assert torch.equal(p.data, q.data)
        rel = (p.data - q.data).norm() / (q.data - s).norm()
        assert rel < 0.03, rel
        assert (r.data - q.data).norm() / (q.data - s).norm() > 0.1  # the check can tell conventions apart


@pytest.mark.parametrize("shape", [(64, 64), (128, 32), (32, 96), (4, 48, 24)])
@pytest.mark.parametrize("ns", ["ns5", "polar_express"])
def test_orthogonalize_is_near_orthogonal(shape, ns):
    """Singular values land near 1 for a spectrum spanning 60×: NS5's quintic in ~[0.7, 1.2], Polar Express tighter."""
    torch.manual_seed(0)
    m, n = shape[-2:]
    k = min(m, n)
    mats = []
    for _ in range(shape[0] if len(shape) == 3 else 1):
        U, _ = torch.linalg.qr(torch.randn(m, k))
        V, _ = torch.linalg.qr(torch.randn(n, k))
        mats.append(U @ torch.diag(torch.linspace(0.05, 3.0, k)) @ V.T)
    G = torch.stack(mats) if len(shape) == 3 else mats[0]
    X = orthogonalize(G, ns_coefficients(ns, 5)).float()
    s = torch.linalg.svdvals(X)
    lo, hi = (0.5, 1.3) if ns == "ns5" else (0.75, 1.15)
    assert X.shape == G.shape and s.min() > lo and s.max() < hi
    # the singular vectors are G's: X ≈ U·f(S)·Vᵀ, so X Gᵀ is symmetric positive semi-definite
    XG = X @ G.float().mT
    assert torch.allclose(XG, XG.mT, atol=0.05 * XG.abs().max())


@pytest.mark.parametrize("ns", ["ns5", "polar_express"])
def test_bf16_iteration_tracks_the_float64_iteration(ns):
    """The bf16 iterate stays within bf16 noise (a few %) of the same polynomial iteration in float64."""
    torch.manual_seed(1)
    for shape in [(16, 32), (24, 24), (40, 24)]:
        G = torch.randn(*shape)
        exact = ref_ns(G.double(), ns_coefficients(ns, 5), torch.float64)
        got = orthogonalize(G, ns_coefficients(ns, 5)).double()
        assert (got - exact).norm() / exact.norm() < 0.03


def test_polar_express_first_step_tuple_is_the_published_one():
    assert ns_coefficients("polar_express", 5)[0] == pytest.approx((8.157, -22.483, 15.879), abs=1e-3)
    assert len(POLAR_EXPRESS) == 5
    with pytest.raises(ValueError):
        ns_coefficients("polar_express", 6)


def test_muon_rejects_vectors_and_bad_variants():
    with pytest.raises(ValueError):
        Muon([torch.nn.Parameter(torch.zeros(4))], lr=0.1, momentum=0.9)
    with pytest.raises(ValueError):
        Muon(_params([(4, 4)]), lr=0.1, momentum=0.9, row_norm="sideways")


def test_row_normalised_after_ns_rows_have_unit_norm():
    """#601: after NS and the shape scale every row of the update has norm 1, so each output row moves by exactly lr."""
    (p,) = _params([(48, 16)])
    before = p.detach().clone()
    p.grad = torch.randn(48, 16)
    Muon([p], lr=0.1, momentum=0.9, row_norm="after_ns").step()
    rows = ((p.data - before) / 0.1).norm(dim=1)
    assert torch.allclose(rows, torch.ones(48), atol=1e-2)


@pytest.mark.parametrize("sharded", [False, True])
def test_one_orthogonalisation_call_per_shape_group(sharded):
    """The step orthogonalises each shape group (same-shape 2-D matrices and 3-D banks stacked) with one batched
    call — the seeds' "Parallel Muon" banks — on one rank, plain and sharded, and matches the per-matrix reference."""
    from pgolf.optim.sharded import ShardedMuon

    ours, ref_p = _params(SHAPES), _params(SHAPES)
    cls = ShardedMuon if sharded else Muon
    opt = cls(ours, lr=0.05, momentum=0.9, ns_steps=5, weight_decay=0.1)
    calls = []

    def counting(G, coeffs):
        calls.append(tuple(G.shape))
        return orthogonalize(G, coeffs)

    opt.orthogonalize = counting
    ref = RefMuon(ref_p, 0.05, 0.9, 0.1, ns_coefficients("ns5", 5))
    for p, q, g in zip(ours, ref_p, _grads(ours, 0)):
        p.grad, q.grad = g.clone(), g.clone()
    if sharded:
        opt.reduce_scatter()
    opt.step()
    ref.step()
    groups = {}
    for s in SHAPES:
        groups[s[-2:]] = groups.get(s[-2:], 0) + (s[0] if len(s) == 3 else 1)
    assert sorted(calls) == sorted((n, *rc) for rc, n in groups.items())  # one call per group, all its matrices
    for p, q in zip(ours, ref_p):
        assert torch.equal(p.data, q.data)


@pytest.mark.parametrize("shape", [(64, 64), (128, 32), (32, 96)])
def test_newton_schulz_is_near_orthogonal(shape):
    torch.manual_seed(0)
    k = min(shape)
    U, _ = torch.linalg.qr(torch.randn(shape[0], k))
    V, _ = torch.linalg.qr(torch.randn(shape[1], k))
    G = U @ torch.diag(torch.linspace(0.05, 3.0, k)) @ V.T  # condition number 60 (5 NS steps handle ~1e2)
    X = newton_schulz5(G).float()
    small = min(shape)
    gram = X @ X.T if shape[0] <= shape[1] else X.T @ X
    s = torch.linalg.svdvals(X)
    assert gram.shape == (small, small)
    assert s.min() > 0.5 and s.max() < 1.3  # NS5's quintic lands singular values in ~[0.7, 1.2]


def test_muon_single_step_equals_direct_formula():
    torch.manual_seed(0)
    p = torch.nn.Parameter(torch.randn(48, 16))
    p0 = p.detach().clone()
    g = torch.randn(48, 16)
    p.grad = g.clone()
    opt = Muon([p], lr=0.1, momentum=0.9, weight_decay=0.5)
    opt.step()
    buf = g  # first step: buf = g
    u = newton_schulz5(g + 0.9 * buf).float() * (48 / 16) ** 0.5
    want = p0 * (1 - 0.1 * 0.5) - 0.1 * u.bfloat16().float()
    assert torch.allclose(p.detach(), want, atol=1e-6)
