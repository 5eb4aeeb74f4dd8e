"""Initialisation exactly as the seeds apply it: OrthoInit (two rules), the "muP" output scaling, the SVD spectral
embedding init, the resid_mix depth ramp, and the zero-init output projections (SPEC_SEEDS.md §1.2–1.3, §6.5).

Order (it matters; this is the order that reproduces each seed's final state):
1. OrthoInit rule, if configured:
   * "linear_min_dim" (#198, #443, #601 with ORTHO_INIT=1, #1473): every nn.Linear whose two dims are ≥ `min_dim`
     (64) and that is not zero-init gets `orthogonal_(gain=1)`; with `proj_scale`, one whose module name ends in
     ".proj" (or contains ".proj.") is then multiplied by 1/√(2L). Zero-init projections are skipped, so the scaling
     only ever reaches `bigram.proj` (#198/#443/#601). #1473 (proj_scale off) orthogonalises its Q/K/V/MLP-up bank
     slices, `bigram.proj` and `ve_shared.proj`, unscaled — the same rule.
   * "param_numel" (#295): every 2-D parameter with ≥ `min_numel` (65,537) elements — tok_emb, bigram.embed and the
     block matrices, but *not* the 65,536-element bigram.proj — gets `orthogonal_`; "proj.weight" names are scaled
     by 1/√(2L) (then zeroed in step 4 anyway).
   Without a rule, `bigram.proj` alone is made orthogonal so the zero-initialised BigramHash branch can learn.
2. Tied embedding: N(0, tied_embed_init_std²) (overwrites an orthogonal tok_emb).
3. Spectral embedding init (#295): W = U S Vᵀ, S'_k = S_1·k^(−exponent) (exponent ½), W ← U diag(S') Vᵀ.
4. Zero-init modules (attn.proj, mlp.proj, untied lm_head) are zeroed: "muP output scaling" is a no-op on them.
5. resid_mix: "identity" (1, 0) or #295's "depth_ramp": φ_i = sigmoid(3·(i/(L−1) − 0.5)), (m0, m1) = (φ_i, 1 − φ_i).

Nothing runs on the meta device (parameter counting). Modules that are not covered keep their own init
(nn.Linear defaults in the baseline; zero tables/projections in BigramHash; N(0, 0.01²) in the VE table).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn


@dataclass(frozen=True)
class OrthoInitConfig:
    """Orthogonal init of large matrices, by one of the seeds' two rules, with optional 1/√(2L) on `.proj`."""

    rule: Literal["linear_min_dim", "param_numel"] = "linear_min_dim"
    min_dim: int = 64  # linear_min_dim: both dims of an nn.Linear at least this
    min_numel: int = 65_537  # param_numel: 2-D parameters with at least this many elements (#295: > 65,536)
    proj_scale: bool = True  # multiply ".proj" weights by 1/√(2L) (#198/#295/#443/#601; not #1473)


@dataclass(frozen=True)
class SpectralEmbedInitConfig:
    """SVD spectral init of the token embedding: singular values S_1·k^(−exponent) (#295)."""

    exponent: float = 0.5


@dataclass(frozen=True)
class InitConfig:
    """How the weights start (each seed's choice is reproduced by its recipe)."""

    ortho: OrthoInitConfig | None = None
    spectral_embed: SpectralEmbedInitConfig | None = None
    resid_mix: Literal["identity", "depth_ramp"] = "identity"


@torch.no_grad()
def init_weights(model: nn.Module, init: InitConfig, num_layers: int, tied_embed_std: float | None) -> None:
    """Initialise a built GPT in place: orthogonal matrices, the tied embedding's normal(0, tied_embed_std) (None =
    untied, left as built), spectral embedding, zero-init projections, and the residual-mix ramp."""
    if model.tok_emb.weight.is_meta:
        return
    L = num_layers
    ortho = init.ortho
    if ortho is None:
        if model.bigram is not None and model.bigram.proj is not None:
            nn.init.orthogonal_(model.bigram.proj.weight, gain=1.0)
    else:
        for _, p, gain in ortho_targets(model, ortho, L):
            nn.init.orthogonal_(p, gain=1.0)
            if gain != 1.0:
                p.mul_(gain)
    if tied_embed_std is not None:
        nn.init.normal_(model.tok_emb.weight, mean=0.0, std=tied_embed_std)
    if init.spectral_embed is not None:
        spectral_init_(model.tok_emb.weight, init.spectral_embed.exponent)
    for m in model.modules():
        if isinstance(m, nn.Linear) and getattr(m, "_zero_init", False):
            nn.init.zeros_(m.weight)
    if init.resid_mix == "depth_ramp":
        for i, block in enumerate(model.blocks):
            phase = torch.sigmoid(torch.tensor(3.0 * (i / max(L - 1, 1) - 0.5)))
            block.resid_mix[0].fill_(phase.item())
            block.resid_mix[1].fill_((1 - phase).item())


def ortho_targets(model: nn.Module, cfg: OrthoInitConfig, num_layers: int) -> list[tuple[str, nn.Parameter, float]]:
    """(parameter name, parameter, gain) for every matrix the rule orthogonalises (gain 1/√(2L) where it scales).

    Works on the meta device too (shapes only), so tests can compare the full-size and tiny target sets.
    """
    scaled = 1.0 / math.sqrt(2 * num_layers) if cfg.proj_scale else 1.0
    out = []
    if cfg.rule == "linear_min_dim":
        for name, m in model.named_modules():
            if not isinstance(m, nn.Linear) or getattr(m, "_zero_init", False):
                continue
            if m.weight.ndim == 2 and min(m.weight.shape) >= cfg.min_dim:
                is_proj = ".proj." in name or name.endswith(".proj")
                out.append((f"{name}.weight", m.weight, scaled if is_proj else 1.0))
    else:
        for name, p in model.named_parameters():
            if p.ndim == 2 and p.numel() >= cfg.min_numel:
                out.append((name, p, scaled if "proj.weight" in name else 1.0))
    return out


def spectral_init_(w: torch.Tensor, exponent: float = 0.5) -> torch.Tensor:
    """In place: keep W's singular vectors, replace its singular values by S_1·k^(−exponent), k = 1..rank."""
    U, S, Vh = torch.linalg.svd(w.to(torch.promote_types(w.dtype, torch.float32)), full_matrices=False)
    target = S[0] * (1.0 / torch.arange(1, S.numel() + 1, dtype=S.dtype)) ** exponent
    w.copy_(((U * target[None, :]) @ Vh).to(w.dtype))
    return w
