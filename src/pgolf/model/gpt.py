"""The GPT trunk. `hidden` reads as one story; every optional step is one visible `if`.

embed (+ BigramHash) (→ gated SmearGate) → RMSNorm (→ the seeds' SmearGate) → x0 → blocks with U-Net skips
(encoder outputs pushed, popped in reverse before the first decoder blocks, scaled per channel), value embeddings and
value residual threaded through → Backout → final RMSNorm → tied (or untied) logits → softcap c·tanh(z/c) → fp32 CE.
The blocks run in a virtual schedule: physical order, or with `recurrence` and `looping` on the looped order
(features/recurrence.py; skips pair virtual slots); with `parallel_residual` the slots from its start layer run on
two lanes whose mean is the final hidden state (features/parallel_residual.py).
Source: openai/parameter-golf naive baseline and the five seeds; SPEC_SEEDS.md §0, §1.2–1.3. Parameter names are the
seeds' (tok_emb.weight, skip_weights, blocks.{i}.…, bigram.*, smear.gate, ve_shared.*, ve_layer_scales.{k},
backout_lambda), so optimizer routing and quantization tables can be written against either.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from pgolf.kernels.softcap_ce import softcap_cross_entropy
from pgolf.model.attention import resolve_attention_kernel
from pgolf.model.block import Block
from pgolf.model.config import ModelConfig, layer_sets
from pgolf.model.features.asym_logit import TTT_ONLY, asym_softcap
from pgolf.model.features.backout import apply_backout, backout_layer
from pgolf.model.features.bigram_hash import BigramHashEmbedding
from pgolf.model.features.parallel_residual import two_lane_block
from pgolf.model.features.recurrence import unet_split, virtual_order
from pgolf.model.features.skip_gates import apply_skip
from pgolf.model.features.smear_gate import make_smear_gate
from pgolf.model.features.value_embed import ValueEmbedding
from pgolf.model.features.varlen import resolve_varlen_kernel, varlen_kernel_fn
from pgolf.model.init import init_weights
from pgolf.model.layers import CastedLinear, rms_norm, zero_init


def unet_pairs(num_layers: int) -> tuple[int, int]:
    """(n_encoder, n_skips): encoder = first ⌊L/2⌋ blocks; one skip per (encoder, decoder) pair (4→5, 3→6, … at L=11)."""
    n_enc = num_layers // 2
    return n_enc, min(n_enc, num_layers - n_enc)


class GPT(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        d, L = cfg.model_dim, cfg.num_layers
        self.attention_kernel = resolve_attention_kernel(cfg.attention_kernel)
        self.tok_emb = nn.Embedding(cfg.vocab_size, d)
        self.bigram = None if cfg.bigram_hash is None else BigramHashEmbedding(cfg.bigram_hash, d, cfg.bos_id)
        self.smear = None if cfg.smear_gate is None else make_smear_gate(cfg.smear_gate, d, cfg.bos_id)
        # the virtual layer schedules (pgolf.model.features.recurrence): plain, and looped when recurrence is on
        self.order_plain = list(range(L))
        self.order_looped = virtual_order(L, cfg.recurrence)
        self.looping = cfg.recurrence is not None
        self.n_enc, n_skip = unet_pairs(L) if cfg.unet_skips else (0, 0)
        if cfg.unet_skips:
            enc, dec = unet_split(self.order_looped)
            n_skip = max(n_skip, min(len(enc), len(dec)))
            self.skip_weights = nn.Parameter(torch.ones(n_skip, d, dtype=torch.float32))
        self.skip_gates = None  # σ-gated skips (#1855), pgolf.model.features.skip_gates
        if cfg.unet_skips and cfg.skip_gates is not None:
            self.skip_gates = nn.Parameter(torch.full((n_skip, d), cfg.skip_gates.init, dtype=torch.float32))
        self.blocks = nn.ModuleList(Block(cfg, i, self.attention_kernel) for i in range(L))
        self.varlen_kernel, self.varlen_note = None, None  # document-isolated attention (features/varlen.py)
        if cfg.varlen is not None:
            self.resolve_varlen(torch.cuda.is_available())
        self.ve_shared, self.ve_slot = None, {}
        if cfg.value_embed is not None:
            ve = cfg.value_embed
            layers = layer_sets(cfg).value_embed
            self.ve_shared = ValueEmbedding(ve, cfg.vocab_size, cfg.num_kv_heads * (d // cfg.num_heads))
            self.ve_layer_scales = nn.ParameterList(
                nn.Parameter(torch.full((1,), ve.layer_scale_init, dtype=torch.float32)) for _ in layers)
            self.ve_slot = {layer: k for k, layer in enumerate(layers)}
        self.backout_lambda, self.backout_at = None, -1
        if cfg.backout is not None:
            self.backout_lambda = nn.Parameter(torch.full((1,), cfg.backout.init, dtype=torch.float32))
            self.backout_at = backout_layer(cfg.backout, L)
        self.par_start = None  # two-lane parallel residuals (pgolf.model.features.parallel_residual)
        if cfg.parallel_residual is not None:
            pr = cfg.parallel_residual
            self.par_start, n_par = pr.start_layer, L - pr.start_layer
            self.par_row0 = 0 if pr.all_layers else pr.start_layer  # row of physical layer i: i − par_row0
            n_par = L if pr.all_layers else n_par
            # flat (1-D: fp32 and scalar-Adam like every control vector), read as (n_par, 2, 2) and (n_par, 2)
            self.parallel_post_lambdas = nn.Parameter(torch.full((4 * n_par,), pr.post_init, dtype=torch.float32))
            self.parallel_resid_lambdas = nn.Parameter(torch.full((2 * n_par,), pr.resid_init, dtype=torch.float32))
        self.lm_head = None if cfg.tie_embeddings else zero_init(CastedLinear(d, cfg.vocab_size, bias=False))
        if cfg.asym_logit is not None:  # TTT-only caps (#1923): frozen in training (features/asym_logit.py)
            self.softcap_pos = nn.Parameter(torch.tensor(cfg.logit_softcap, dtype=torch.float32), requires_grad=False)
            self.softcap_neg = nn.Parameter(torch.tensor(cfg.logit_softcap, dtype=torch.float32), requires_grad=False)
        self.reset_parameters()

    @torch.no_grad()
    def reset_parameters(self) -> None:
        """The seeds' initialisation as configured in `cfg.init` (see `pgolf.model.init`)."""
        c = self.cfg
        init_weights(self, c.init, c.num_layers, c.tied_embed_init_std if c.tie_embeddings else None)

    def resolve_varlen(self, on_cuda: bool, choice: str | None = None) -> str:
        """Pick the varlen kernel for the device the model runs on (the trainer calls it); → the log line. `choice`
        (auto | fa3 | masked) stands in for model.varlen.kernel, e.g. for phased TTT on a model trained without it."""
        choice = choice or self.cfg.varlen.kernel
        self.varlen_kernel, self.varlen_note = resolve_varlen_kernel(choice, on_cuda)
        for b in self.blocks:
            b.attn.varlen_fa3 = varlen_kernel_fn(self.varlen_kernel)
        return self.varlen_note

    def ttt_only_names(self) -> tuple[str, ...]:
        """Parameters that training never updates and only test-time training may adapt (AsymLogit's caps)."""
        return TTT_ONLY if self.cfg.asym_logit is not None else ()

    def set_looping(self, on: bool) -> None:
        """Run the looped (virtual) schedule or the plain one; only a model with `cfg.recurrence` can loop."""
        if on and self.cfg.recurrence is None:
            raise ValueError("set_looping(True) needs model.recurrence")
        self.looping = bool(on)

    def schedule(self) -> tuple[list[int], int]:
        """(physical block per virtual slot, number of encoder slots) of the current graph."""
        if not self.looping:
            return self.order_plain, self.n_enc
        return self.order_looped, (len(self.order_looped) // 2 if self.cfg.unet_skips else 0)

    def layer_ve(self, layer: int, ve: Tensor | None) -> Tensor | None:
        """The value embedding for `layer` (scaled by its ve_layer_scales entry), or None where it is not used."""
        if ve is None or layer not in self.ve_slot:
            return None
        return ve * self.ve_layer_scales[self.ve_slot[layer]].to(ve.dtype)

    def skip_row(self, k: int) -> tuple[Tensor, Tensor | None]:
        """(skip weight, skip gate or None) of skip pair k."""
        return self.skip_weights[k], None if self.skip_gates is None else self.skip_gates[k]

    def hidden(self, idx: Tensor, cu_seqlens: Tensor | None = None, max_seqlen: int = 0) -> Tensor:
        """Final normed hidden states (B, T, d). With cu_seqlens (model.varlen, boundaries of idx.flatten()) the
        batch runs as one flat row whose attention stays inside each segment (features/varlen.py)."""
        shape = idx.shape
        if cu_seqlens is not None:
            if self.varlen_kernel is None:
                raise ValueError("cu_seqlens given but model.varlen is off")
            idx = idx.reshape(1, -1)
        x = self.tok_emb(idx)
        if self.bigram is not None:
            x = x + self.bigram(idx)
        if self.smear is not None and self.smear.before_norm:  # the gated kind (#1855)
            x = self.smear(x, idx)
        x = rms_norm(x)
        if self.smear is not None and not self.smear.before_norm:  # the seeds'
            x = self.smear(x, idx)
        x0 = x
        ve = self.ve_shared(idx) if self.ve_shared is not None else None
        v0, x_mid, skips = None, None, []
        order, n_enc = self.schedule()
        lanes = None
        for j, i in enumerate(order):  # j: virtual slot, i: physical block
            if self.par_start is not None and i >= self.par_start:
                lane0, lane1 = lanes if lanes is not None else (x, x)
                if j >= n_enc and skips:  # skips go into lane0 only
                    lane0 = apply_skip(lane0, skips.pop(), *self.skip_row(j - n_enc))
                k = i - self.par_row0
                post = self.parallel_post_lambdas[4 * k : 4 * k + 4].view(2, 2)
                resid = self.parallel_resid_lambdas[2 * k : 2 * k + 2]
                lane0, lane1, _ = two_lane_block(self.blocks[i], lane0, lane1, x0, post, resid,
                                                 self.layer_ve(i, ve), v0, cu_seqlens, max_seqlen)
                lanes = (lane0, lane1)
                continue
            if j >= n_enc and skips:
                x = apply_skip(x, skips.pop(), *self.skip_row(j - n_enc))
            x, v = self.blocks[i](x, x0, self.layer_ve(i, ve), v0, cu_seqlens, max_seqlen)
            if j == 0 and self.cfg.value_residual is not None:
                v0 = v
            if j < n_enc:
                skips.append(x)
            if i == self.backout_at:
                x_mid = x
        if lanes is not None:
            x = 0.5 * (lanes[0] + lanes[1])
        if self.backout_lambda is not None:
            x = apply_backout(x, x_mid, self.backout_lambda)
        return rms_norm(x).reshape(*shape, -1)

    def head(self, idx: Tensor, cu_seqlens: Tensor | None = None, max_seqlen: int = 0) -> Tensor:
        """Logits before the softcap (B, T, V), in the head's compute dtype; cu_seqlens: document-isolated attention."""
        x = self.hidden(idx, cu_seqlens, max_seqlen)
        return F.linear(x, self.tok_emb.weight) if self.lm_head is None else self.lm_head(x)

    def logits(self, idx: Tensor, train: bool = False, cu_seqlens: Tensor | None = None,
               max_seqlen: int = 0) -> Tensor:
        """Softcapped fp32 logits (B, T, V); the eval cap is AsymLogit's when on, training's always symmetric."""
        z = self.head(idx, cu_seqlens, max_seqlen)
        c = self.cfg.logit_softcap
        z = z.to(torch.promote_types(z.dtype, torch.float32))
        if self.cfg.asym_logit is not None and not train:
            return asym_softcap(z, self.softcap_pos, self.softcap_neg)
        return c * torch.tanh(z / c)

    def chunked_nll(self, idx: Tensor, targets: Tensor, reduction: str, cu_seqlens: Tensor | None = None,
                    max_seqlen: int = 0) -> Tensor:
        """Cross-entropy of the symmetric softcapped logits, chunked, never storing them (pgolf.kernels.softcap_ce)."""
        z = self.head(idx, cu_seqlens, max_seqlen)
        rows = self.cfg.softcap_ce.chunk_rows if self.cfg.softcap_ce is not None else 0
        return softcap_cross_entropy(z.reshape(-1, z.size(-1)), targets.reshape(-1), self.cfg.logit_softcap,
                                     reduction, rows)

    def token_losses(self, idx: Tensor, targets: Tensor) -> Tensor:
        """Per-token NLL (B, T) in fp32 (evaluation and TTT): the chunked kernel, or AsymLogit's caps when on."""
        if self.cfg.asym_logit is not None:
            z = self.logits(idx)
            return F.cross_entropy(z.reshape(-1, z.size(-1)), targets.reshape(-1), reduction="none").view_as(targets)
        return self.chunked_nll(idx, targets, "none").view_as(targets)

    def forward(self, idx: Tensor, targets: Tensor, cu_seqlens: Tensor | None = None, max_seqlen: int = 0) -> Tensor:
        """Mean NLL over all targets (the training objective): chunked with `softcap_ce`, else the eager twin;
        cu_seqlens: document-isolated attention (features/varlen.py)."""
        if self.cfg.softcap_ce is not None:
            return self.chunked_nll(idx, targets, "mean", cu_seqlens, max_seqlen)
        z = self.logits(idx, train=True, cu_seqlens=cu_seqlens, max_seqlen=max_seqlen)
        return F.cross_entropy(z.reshape(-1, z.size(-1)), targets.reshape(-1))


def count_params(cfg: ModelConfig) -> int:
    """Full-size parameter count, built on the meta device (no memory)."""
    with torch.device("meta"):
        model = GPT(cfg)
    return sum(p.numel() for p in model.parameters())
