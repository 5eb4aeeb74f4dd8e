"""The export policy: a table of name patterns → treatment, and the state-dict ⇄ quantized-tensors transform.

A table is an ordered tuple of `QuantRule`s (pgolf.quant.config): the first rule whose fnmatch glob matches the full tensor
name and whose element count lies in [min_numel, max_numel] wins. Actions: `int` (per-row intN, pgolf.quant.rtn, or
GPTQ when a Hessian is given), `fp16` / `fp32` / `bf16` passthrough (the original dtype is restored on load), `keep`
(stored as is). Non-float tensors are always stored exactly. A float tensor no rule matches is an error raised before
anything is quantized (the coverage assert). The named seed tables live in pgolf.quant.tables; `quant.rules` are
checked before the named table. `Policy.bits_for(name, tensor)` tells QAT which grid a weight will be exported on.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch
from torch import Tensor

from pgolf.errors import PgolfError
from pgolf.quant.awq import check_arrays, int_base, quantize_protected
from pgolf.quant.config import QuantConfig, QuantRule
from pgolf.quant.lqer import check_factors, dequantize_corrected
from pgolf.quant.rtn import IntSpec, dequantize, quantize
from pgolf.quant.tables import GATE_RULES, TABLES

_DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}
_PASS = {"fp16": torch.float16, "fp32": torch.float32, "bf16": torch.bfloat16}


def spec_of(rule: QuantRule) -> IntSpec:
    return IntSpec(rule.bits, rule.clip, rule.clip_value, tuple(rule.candidates), rule.floor, rule.neg_extra)


def matches(rule: QuantRule, name: str, numel: int) -> bool:
    if rule.min_numel and numel < rule.min_numel:
        return False
    if rule.max_numel and numel > rule.max_numel:
        return False
    return fnmatch.fnmatchcase(name, rule.pattern)


@dataclass(frozen=True)
class Policy:
    name: str
    rules: tuple[QuantRule, ...]

    def rule_for(self, name: str, t: Tensor) -> QuantRule | None:
        """The first matching rule; None for non-float tensors (stored exactly). Raises if nothing matches."""
        if not t.is_floating_point():
            return None
        for r in self.rules:
            if matches(r, name, t.numel()):
                return r
        raise PgolfError(f"quant policy {self.name!r}: no rule matches tensor {name} (shape {list(t.shape)}); "
                         "add a rule to quant.rules")

    def bits_for(self, name: str, t: Tensor) -> int | None:
        """The int width `name` is exported at, or None when it is passed through."""
        r = self.rule_for(name, t)
        return r.bits if r is not None and r.action == "int" else None

    def check_covers(self, state: Mapping[str, Tensor]) -> None:
        for name, t in state.items():
            self.rule_for(name, t)


def policy_for(quant: QuantConfig, num_layers: int) -> Policy:
    """The resolved table of a quant block at a model of `num_layers` (late-layer rows name the last blocks):
    `quant.rules` first, then the frontier's gate rows, then the named seed table."""
    return Policy(quant.policy, tuple(quant.rules) + GATE_RULES + TABLES[quant.policy](quant, num_layers))


def bits_for(name: str, tensor: Tensor, quant: QuantConfig, num_layers: int) -> int | None:
    """Export width of one tensor under the quant block's policy; None = passthrough."""
    return policy_for(quant, num_layers).bits_for(name, tensor)


def classify(name: str, t: Tensor, quant: QuantConfig, num_layers: int) -> str:
    """'exact' | 'fp32' | 'fp16' | 'bf16' | 'keep' | 'intN' under the quant block's policy (the rule `bits_for` reads)."""
    r = policy_for(quant, num_layers).rule_for(name, t)
    if r is None:
        return "exact"
    return f"int{r.bits}" if r.action == "int" else r.action


def _dtype_name(dt: torch.dtype) -> str:
    return str(dt).removeprefix("torch.")


GptqFn = Callable[[Tensor, Tensor, IntSpec], tuple[Tensor, Tensor]]


def quantize_state_dict(sd: Mapping[str, Tensor], policy: Policy,
                        hessians: Mapping[str, Tensor] | None = None, gptq: GptqFn | None = None,
                        awq: tuple[Mapping[str, tuple[int, ...]], object] | None = None,
                        ) -> tuple[dict[str, Tensor], dict[str, dict]]:
    """→ (tensors to store, per-name metadata). `gptq(w, H, spec)` replaces RTN for names with a Hessian; `awq` =
    ({name: group starts}, AWQConfig) protects those groups inside GPTQ (pgolf.quant.awq)."""
    policy.check_covers(sd)
    tensors: dict[str, Tensor] = {}
    meta: dict[str, dict] = {}
    for name, t in sd.items():
        t = t.detach().cpu().contiguous()
        rule = policy.rule_for(name, t)
        info: dict = {"dtype": _dtype_name(t.dtype), "shape": list(t.shape)}
        if rule is None or rule.action == "keep":
            info["kind"] = "exact"
            tensors[name] = t
        elif rule.action in _PASS:
            info["kind"] = rule.action
            tensors[name] = t.to(_PASS[rule.action])
        else:
            spec = spec_of(rule)
            H = hessians.get(name) if hessians else None
            use_gptq = gptq is not None and H is not None and t.ndim == 2
            starts = awq[0].get(name) if awq and use_gptq else None
            if starts:
                q, s, extra, info["awq"] = quantize_protected(gptq, t, H, spec, starts, awq[1])
                tensors.update({name + k: v for k, v in extra.items()})
            else:
                q, s = gptq(t, H, spec) if use_gptq else quantize(t, spec)
            info.update(kind="int", bits=rule.bits, method="gptq" if use_gptq else rule.clip)
            tensors[name] = q
            tensors[name + ".scale"] = s
        meta[name] = info
    return tensors, meta


def dequantize_state_dict(tensors: Mapping[str, Tensor], meta: Mapping[str, dict]) -> dict[str, Tensor]:
    check_factors(tensors, meta)
    check_arrays(tensors, meta)
    out: dict[str, Tensor] = {}
    for name, info in meta.items():
        dtype = _DTYPES.get(info["dtype"])
        kind = info["kind"]
        if kind == "exact":
            out[name] = tensors[name]
        elif kind in _PASS:
            out[name] = tensors[name].to(dtype)
        elif kind == "int" and info.get("lqer"):
            out[name] = dequantize_corrected(tensors, name, info, dtype)
        elif kind == "int" and info.get("awq"):
            out[name] = int_base(tensors, name, info).to(dtype).contiguous()
        elif kind == "int":
            out[name] = dequantize(tensors[name], tensors[name + ".scale"], dtype)
        else:
            raise ValueError(f"unknown tensor kind {kind!r} for {name}")
        if list(out[name].shape) != info["shape"]:
            raise ValueError(f"{name}: shape {list(out[name].shape)} does not match recorded {info['shape']}")
    return out

