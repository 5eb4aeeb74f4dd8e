"""The GPT trunk. `forward` reads as one story; every optional step is one visible `if`.

embed → RMSNorm → x0 → blocks with U-Net skips (encoder outputs pushed, popped in reverse before the first
decoder blocks, scaled per channel) → final RMSNorm → tied (or untied) logits → softcap c·tanh(z/c) → fp32 CE.
Source: openai/parameter-golf naive baseline; SPEC_SEEDS.md §0, §1.3.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pgolf.config import ModelConfig
from pgolf.model.block import Block
from pgolf.model.layers import CastedLinear, rms_norm, zero_init


def unet_pairs(num_layers: int) -> tuple[int, int]:
    """(n_encoder, n_skips): encoder = first ⌊L/2⌋ blocks; one skip per (encoder, decoder) pair."""
    n_enc = num_layers // 2
    return n_enc, min(n_enc, num_layers - n_enc)


class GPT(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d = cfg.model_dim
        self.tok_emb = nn.Embedding(cfg.vocab_size, d)
        self.n_enc, n_skip = unet_pairs(cfg.num_layers) if cfg.unet_skips else (0, 0)
        if cfg.unet_skips:
            self.skip_weights = nn.Parameter(torch.ones(n_skip, d, dtype=torch.float32))
        self.blocks = nn.ModuleList(Block(cfg, i) for i in range(cfg.num_layers))
        self.lm_head = None if cfg.tie_embeddings else zero_init(CastedLinear(d, cfg.vocab_size, bias=False))
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """The baseline init: N(0, std²) tied embedding, zero output projections, defaults elsewhere."""
        if self.cfg.tie_embeddings:
            nn.init.normal_(self.tok_emb.weight, mean=0.0, std=self.cfg.tied_embed_init_std)
        for m in self.modules():
            if isinstance(m, nn.Linear) and getattr(m, "_zero_init", False):
                nn.init.zeros_(m.weight)

    def hidden(self, idx: Tensor) -> Tensor:
        """Final normed hidden states (B, T, d)."""
        x = rms_norm(self.tok_emb(idx))
        x0 = x
        skips: list[Tensor] = []
        for i, block in enumerate(self.blocks):
            if self.cfg.unet_skips and i >= self.n_enc and skips:
                x = x + self.skip_weights[i - self.n_enc].to(x.dtype) * skips.pop()
            x = block(x, x0)
            if i < self.n_enc:
                skips.append(x)
        return rms_norm(x)

    def logits(self, idx: Tensor) -> Tensor:
        """Softcapped fp32 logits (B, T, V)."""
        x = self.hidden(idx)
        z = F.linear(x, self.tok_emb.weight) if self.lm_head is None else self.lm_head(x)
        c = self.cfg.logit_softcap
        z = z.to(torch.promote_types(z.dtype, torch.float32))
        return c * torch.tanh(z / c)

    def token_losses(self, idx: Tensor, targets: Tensor) -> Tensor:
        """Per-token NLL (B, T) in fp32."""
        z = self.logits(idx)
        return F.cross_entropy(z.reshape(-1, z.size(-1)), targets.reshape(-1), reduction="none").view_as(targets)

    def forward(self, idx: Tensor, targets: Tensor) -> Tensor:
        """Mean NLL over all targets (the training objective)."""
        z = self.logits(idx)
        return F.cross_entropy(z.reshape(-1, z.size(-1)), targets.reshape(-1))


def count_params(cfg: ModelConfig) -> int:
    """Full-size parameter count, built on the meta device (no memory)."""
    with torch.device("meta"):
        model = GPT(cfg)
    return sum(p.numel() for p in model.parameters())
