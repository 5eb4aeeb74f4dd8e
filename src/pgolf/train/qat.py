"""Quantization-aware training: straight-through fake quantization per row, by weight swap on the one model.

Around every training step's forward and backward, each targeted weight W (any parameter the quant policy gives a
bit width, banks included) is swapped in place for its RTN fake-quantized value Q(W); after the backward the
full-precision W is restored, so the gradient computed at Q(W) is applied to W — exactly the straight-through
estimator w + (Q(w) − w).detach() (∂L/∂W = ∂L/∂Q), the mechanism of #601 (SPEC_SEEDS.md §1.6).
Why a swap: it reaches every weight the forward reads, whatever module reads it (#1473's QAT lived in
`CastedLinear.forward`, so its banked matrices never saw it); the compiled graph never changes (no class-level
flag, no Dynamo guard, nothing to recompile when late QAT switches on: the switch is this object's `active`).
Q per row r of the matrix view (rows = all but the last dim): q = clamp(round(clip(W_r, ±c_r)/s_r), lo, hi),
Q = q·ŝ_r, where the scale rule gives (s, ŝ, c, lo, hi) for a bit width:
  policy        — the exporter's int8 rule generalised: c = per-row |W| percentile, s = max(c/qmax, 1/qmax),
                  ŝ = fp16(s), ±qmax (equals quant.rtn for 8 bits, so the forward sees the exported weights)
  absmax        — s = ŝ = max(rowmax, 1e-12)/qmax, ±qmax (#295)
  absmax_floor  — s = ŝ = max(rowmax/qmax, 1/qmax), [−qmax−1, qmax] (#198, #1473)
  absmax_fp16   — s = ŝ = fp16(max(rowmax, 1e-12)/qmax), [−qmax−1, qmax] (#601)
  export        — exactly the exporter's grid for that tensor: the policy rule that will export it (clip mode,
                  floor, range, fp16 scales, per-matrix clip search), via pgolf.quant.rtn.quantize → dequantize, so
                  the forward sees the RTN-exported weights bit for bit (a GPTQ-exported tensor sees its RTN grid;
                  a `bits` override on a tensor the policy passes through gets the default percentile grid)
Bit widths: `bits_for(name, param) -> int | None` (None = full precision); by default the quant policy's
(`pgolf.quant.policy.Policy.bits_for`, the exporter's own table at the model's depth), with `QATConfig.bits`
overrides "regex=N" / "regex=none", first match wins.
From step 0 (`late_threshold` None) or from the first step whose LR scale is below `late_threshold` (#601: 0.15).
Params/bytes added: none (a full-precision backup of the targeted weights lives on the device during training).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal, NamedTuple

import torch
from torch import Tensor, nn

from pgolf.quant.config import QuantConfig
from pgolf.quant.policy import policy_for, spec_of
from pgolf.quant.rtn import IntSpec, dequantize, quantize


@dataclass(frozen=True)
class QATConfig:
    """Straight-through fake quantization of the weights the quant policy quantizes, per row."""

    late_threshold: float | None = None  # None: from step 0; else on once the LR scale is below this (#601: 0.15)
    scale: Literal["policy", "absmax", "absmax_floor", "absmax_fp16", "export"] = "policy"
    bits: tuple[str, ...] = ()  # overrides "regex=bits" or "regex=none", first match wins; else the policy's bits
    clip_percentile: float = 99.99984  # the `policy` rule's per-row clip (the int8 exporter's)


class RowGrid(NamedTuple):
    scale: Tensor  # (rows, 1) quantisation step
    dq_scale: Tensor  # (rows, 1) dequantisation step
    clip: Tensor | None  # (rows, 1) clip applied before rounding
    lo: int
    hi: int


BitsFor = Callable[[str, Tensor], "int | None"]
ScaleRule = Callable[[Tensor, int], RowGrid]
PerTarget = Callable[[str, Tensor, int], Callable[[Tensor], Tensor]]  # (name, param, bits) → fake quantizer


def row_quantile(a: Tensor, q: float) -> Tensor:
    """torch.quantile(a, q, dim=1, keepdim=True) (linear interpolation) from the top n − ⌊q(n−1)⌋ values only:
    for the exporter's q = 0.9999984 that is a top-2 instead of a sort of every row (same arithmetic, same bits)."""
    n = a.size(1)
    rank = torch.tensor(q, dtype=a.dtype) * (n - 1)
    lo, hi = int(rank.floor()), int(rank.ceil())
    top = torch.topk(a, n - lo, dim=1).values  # descending: column j holds ascending rank n − 1 − j
    return torch.lerp(top[:, n - 1 - lo : n - lo], top[:, n - 1 - hi : n - hi], float(rank - lo))


def scale_rule(kind: str, clip_percentile: float = 99.99984) -> ScaleRule:
    def rule(w: Tensor, bits: int) -> RowGrid:
        qmax = 2 ** (bits - 1) - 1
        rowmax = w.abs().amax(dim=1, keepdim=True)
        if kind == "policy":
            c = row_quantile(w.abs(), clip_percentile / 100.0)
            s = (c / qmax).clamp_min(1.0 / qmax)
            return RowGrid(s, s.half().float(), c, -qmax, qmax)
        if kind == "absmax":
            s = rowmax.clamp_min(1e-12) / qmax
            return RowGrid(s, s, None, -qmax, qmax)
        if kind == "absmax_floor":
            s = (rowmax / qmax).clamp_min(1.0 / qmax)
            return RowGrid(s, s, None, -qmax - 1, qmax)
        if kind == "absmax_fp16":
            s = (rowmax.clamp_min(1e-12) / qmax).half().float()
            return RowGrid(s, s, None, -qmax - 1, qmax)
        raise ValueError(f"unknown QAT scale rule {kind!r}")

    return rule


def fake_quant(w: Tensor, bits: int, rule: ScaleRule) -> Tensor:
    """Per-row RTN quantize → dequantize of w (rows = all dims but the last), in w's dtype."""
    w2 = w.detach().float().reshape(-1, w.size(-1))
    g = rule(w2, bits)
    if g.clip is not None:
        w2 = torch.maximum(torch.minimum(w2, g.clip), -g.clip)
    q = torch.clamp(torch.round(w2 / g.scale), g.lo, g.hi)
    return (q * g.dq_scale).reshape(w.shape).to(w.dtype)


def export_fake_quant(quant_cfg: QuantConfig, num_layers: int) -> PerTarget:
    """Per-target fake quantizers on the exporter's own grid (scale rule `export`) at a model of num_layers."""
    policy = policy_for(quant_cfg, num_layers)

    def make(name: str, p: Tensor, bits: int) -> Callable[[Tensor], Tensor]:
        r = policy.rule_for(name, p.detach())
        spec = spec_of(r) if r is not None and r.action == "int" else IntSpec(bits=bits)
        if spec.bits != bits:
            spec = replace(spec, bits=bits)

        def fq(w: Tensor) -> Tensor:
            q, scale = quantize(w.detach().float(), spec)
            return dequantize(q, scale, w.dtype).reshape(w.shape)

        return fq

    return make


def policy_bits(quant_cfg: QuantConfig, num_layers: int) -> BitsFor:
    """Bit widths from the export policy itself (`pgolf.quant.policy.Policy.bits_for`, the one source of truth):
    the width of the rule that will export the tensor, None for passthrough. `num_layers` (the model's depth)
    resolves the tables' late-layer carve-outs."""
    policy = policy_for(quant_cfg, num_layers)

    def bits_for(name: str, p: Tensor) -> int | None:
        return policy.bits_for(name, p.detach())

    return bits_for


def override_bits(entries: tuple[str, ...], fallback: BitsFor) -> BitsFor:
    """'regex=N' / 'regex=none' entries (first match wins) in front of `fallback`."""
    table = []
    for e in entries:
        pat, sep, val = e.partition("=")
        if not sep or not (val.strip().isdigit() or val.strip().lower() == "none"):
            raise ValueError(f"train.qat.bits: expected 'regex=bits' or 'regex=none', got {e!r}")
        table.append((re.compile(pat.strip()), None if val.strip().lower() == "none" else int(val)))

    def bits_for(name: str, p: Tensor) -> int | None:
        for pat, b in table:
            if pat.search(name):
                return b
        return fallback(name, p)

    return bits_for


class QAT:
    """Trainer state for fake quantization: `with qat.applied(): forward/backward` swaps Q(W) in and W back."""

    def __init__(self, model: nn.Module, bits_for: BitsFor, rule: ScaleRule | None, late_threshold: float | None = None,
                 per_target: PerTarget | None = None, label: str = ""):
        self.targets = [(n, p, b) for n, p in model.named_parameters()
                        if p.ndim >= 2 and (b := bits_for(n, p)) is not None]
        self.rule = rule
        self.label = label
        if per_target is not None:
            self._fq = [per_target(n, p, b) for n, p, b in self.targets]
        else:
            assert rule is not None, "QAT needs a scale rule or a per-target fake quantizer"
            self._fq = [lambda w, b=b: fake_quant(w, b, rule) for _, _, b in self.targets]
        self.late_threshold = late_threshold
        self.active = late_threshold is None
        self._backup: list[Tensor] | None = None

    def maybe_switch_on(self, lr_scale: float) -> bool:
        """Late QAT: switch on at the first step whose LR scale is below the threshold; → True when it switched."""
        if self.active or self.late_threshold is None or not lr_scale < self.late_threshold:
            return False
        self.active = True
        return True

    @torch.no_grad()
    def swap_in(self) -> None:
        if self._backup is None:
            self._backup = [torch.empty_like(p) for _, p, _ in self.targets]
        for (_, p, _), b, fq in zip(self.targets, self._backup, self._fq):
            b.copy_(p)
            p.copy_(fq(p))

    @torch.no_grad()
    def swap_out(self) -> None:
        for (_, p, _), b in zip(self.targets, self._backup):
            p.copy_(b)

    def applied(self):
        return _Swap(self) if self.active and self.targets else contextlib.nullcontext()

    def describe(self) -> str:
        when = "from step 0" if self.late_threshold is None else f"once lr scale < {self.late_threshold}"
        widths = sorted({b for *_, b in self.targets})
        return f"QAT {when}: {len(self.targets)} tensors at {widths} bits (weight-swap STE{', scale ' + self.label if self.label else ''})"


class _Swap:
    def __init__(self, qat: QAT):
        self.qat = qat

    def __enter__(self):
        self.qat.swap_in()

    def __exit__(self, *exc):
        self.qat.swap_out()
        return False


def build_qat(model: nn.Module, cfg: QATConfig, quant_cfg: QuantConfig, num_layers: int,
              bits_for: BitsFor | None = None, rule: ScaleRule | None = None) -> QAT:
    """QAT from a QATConfig; `bits_for`/`rule` default to the quant policy at the model's depth `num_layers` and
    `cfg.scale`."""
    if bits_for is None:
        bits_for = policy_bits(quant_cfg, num_layers)
    bits_for = override_bits(cfg.bits, bits_for)
    if cfg.scale == "export" and rule is None:
        per_target = export_fake_quant(quant_cfg, num_layers)
        return QAT(model, bits_for, None, cfg.late_threshold, per_target=per_target, label="export")
    return QAT(model, bits_for, rule or scale_rule(cfg.scale, cfg.clip_percentile), cfg.late_threshold,
               label=cfg.scale if rule is None else "custom")
