"""Per-row intN quantizers against naive per-row loops written here, for every clip mode and width."""

from __future__ import annotations

import pytest
import torch

from pgolf.quant.rtn import IntSpec, dequantize, quantize, quantize_int8_percentile, quantize_rows

TINY = torch.finfo(torch.float16).tiny


def naive(w: torch.Tensor, spec: IntSpec, pct_override: float | None = None):
    """Row by row, in plain Python floats where it matters: (q rows, fp16 scales, per-row mse)."""
    c, lo = spec.c, spec.lo
    qs, ss, errs = [], [], []
    for row in w.float():
        a = row.abs()
        if pct_override is not None:
            clip = a.max() if pct_override >= 100 else torch.quantile(a, pct_override / 100)
        elif spec.clip == "absmax":
            clip = a.max()
        elif spec.clip == "percentile":
            clip = torch.quantile(a, spec.clip_value / 100)
        else:  # sdclip
            clip = spec.clip_value * ((row - row.mean()).square().sum() / (row.numel() - 1)).sqrt()  # sample std
        s = max(float(clip) / c, 1.0 / c if spec.floor else TINY)
        s16 = torch.tensor(s).half().clamp_min(TINY)
        q = torch.clamp(torch.round(torch.clamp(row, -float(clip), float(clip)) / s16.float()), lo, c)
        qs.append(q)
        ss.append(s16)
        errs.append(float((row - q * s16.float()).square().mean()))
    return torch.stack(qs).to(torch.int8), torch.stack(ss), torch.tensor(errs)


@pytest.mark.parametrize("bits", [2, 3, 4, 5, 6, 7, 8])
@pytest.mark.parametrize("clip,value", [("absmax", 0.0), ("percentile", 99.9), ("sdclip", 3.0)])
@pytest.mark.parametrize("floor,neg_extra", [(True, False), (False, True)])
def test_clip_modes_match_naive(bits, clip, value, floor, neg_extra):
    g = torch.Generator().manual_seed(bits)
    w = torch.randn(12, 200, generator=g) * torch.logspace(-2, 0.5, 12)[:, None]
    w[3, 5] = 9.0  # an outlier
    spec = IntSpec(bits, clip, value, (), floor, neg_extra)
    q, s = quantize_rows(w, spec)
    qn, sn, _ = naive(w, spec)
    assert q.dtype == torch.int8 and s.dtype == torch.float16
    assert torch.equal(s, sn)
    assert torch.equal(q, qn)
    assert int(q.min()) >= spec.lo and int(q.max()) <= spec.c
    if neg_extra and bits <= 6:
        assert spec.lo == -(2 ** (bits - 1))


def test_floor_binds_for_small_rows_and_is_explicit():
    w = torch.randn(4, 64) * 0.01  # |w|max < 1 → the seeds' int6 floor 1/31 binds
    _, s_floor = quantize_rows(w, IntSpec(6, "absmax", floor=True))
    _, s_free = quantize_rows(w, IntSpec(6, "absmax", floor=False))
    assert torch.all(s_floor == torch.tensor(1 / 31).half())
    assert torch.all(s_free < s_floor)


@pytest.mark.parametrize("mode", ["search_row", "search_tensor"])
def test_clip_search_picks_lowest_mse(mode):
    g = torch.Generator().manual_seed(1)
    w = torch.randn(10, 300, generator=g)
    w[::3, 0] = 12.0  # rows where clipping the outlier pays
    spec = IntSpec(4, mode, floor=False)
    q, s = quantize_rows(w, spec)
    per_cand = [naive(w, spec, p) for p in spec.candidate_list()]
    errs = torch.stack([e for _, _, e in per_cand])  # (cands, rows)
    if mode == "search_row":
        best = errs.argmin(0)
        for r in range(10):
            assert torch.equal(q[r], per_cand[best[r]][0][r]) and s[r] == per_cand[best[r]][1][r]
    else:
        b = int(errs.mean(1).argmin())
        assert torch.equal(q, per_cand[b][0]) and torch.equal(s, per_cand[b][1])
    # the search is never worse than plain absmax
    qa, sa = quantize_rows(w, IntSpec(4, "absmax", floor=False))
    assert (w - dequantize(q, s, torch.float32)).square().mean() <= (w - dequantize(qa, sa, torch.float32)).square().mean()


def test_baseline_int8_path_is_the_bit_exact_exporter():
    w = torch.randn(16, 300)
    spec = IntSpec(8, "percentile", 99.99984, floor=True)
    for t in (w, w[0], w.reshape(4, 4, 300)):
        q, s = quantize(t, spec)
        qb, sb = quantize_int8_percentile(t, 99.99984)
        assert torch.equal(q, qb) and torch.equal(s, sb)


def test_rounding_error_bound_and_one_d():
    w = torch.randn(8, 100)
    q, s = quantize_rows(w, IntSpec(5, "absmax", floor=False))
    err = (dequantize(q, s, torch.float32) - w).abs()
    assert torch.all(err <= s.float()[:, None] * 0.5 + 1e-6)
    q1, s1 = quantize_rows(torch.tensor([0.5, -1.0, 0.25]), IntSpec(6, "absmax"))
    assert s1.dtype == torch.float32 and torch.equal(q1, torch.tensor([16, -31, 8], dtype=torch.int8))


def test_int8_percentile_matches_naive_rowwise():
    w = torch.randn(16, 300)
    w[3, 7] = 40.0  # an outlier that the percentile clip must cut
    q, s = quantize_int8_percentile(w, 99.99984)
    for r in range(16):
        row = w[r].abs().sort().values
        # torch.quantile's linear interpolation, written out (its position is computed in float32: a float64 position
        # moves the clip by an ulp and flips a value sitting on a .5 rounding boundary in ~12% of random draws)
        pos = torch.tensor(0.9999984) * (row.numel() - 1)
        lo, frac = int(pos), pos - int(pos)
        clip = row[lo] + frac * (row[min(lo + 1, row.numel() - 1)] - row[lo])
        scale = max(clip.item() / 127, 1 / 127)
        assert abs(s[r].item() - scale) <= 1e-3 * scale
        want = torch.clamp(torch.round(torch.clamp(w[r], -clip, clip) / scale), -127, 127)
        assert torch.equal(q[r].float(), want)
        deq = dequantize(q[r : r + 1], s[r : r + 1], torch.float32)[0]
        # rounding error ≤ s/2, plus 127 steps of the fp16 rounding of the stored scale (≤ 2^-11 relative)
        assert (deq - torch.clamp(w[r], -clip, clip)).abs().max() <= scale * (0.5 + 127 * 2**-11) + 1e-6
