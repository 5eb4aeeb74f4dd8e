"""GPTQ calibration: input Hessians H = Σ XᵀX / n of every CastedLinear, from forward hooks on the one model.

Data (quant.gptq.calibration): `train` — batches from the training loader, inside the training budget (the run stops
training `reserve_seconds` early; the frontier reserves 4–8 s, SPEC_FRONTIER §4.1); `generated` — sequences the model
samples itself (pgolf.quant.generate, #1019/#1473: no training or validation data touched after training).
Hooks are registered on the model's CastedLinear modules by name (68 of them in #1473), accumulate in fp32 on the
device, are removed afterwards, and the Hessians are summed over ranks when torch.distributed is initialised. No
damping here: pgolf.quant.gptq damps once. Keys are the weights' state-dict names ("blocks.0.attn.c_q.weight").
GPTQ on the tied embedding (`quant.gptq.embeddings`, #1394): the embedding is also the LM head, so its Hessian is
XᵀX of the LM head's inputs, the final-norm outputs `model.hidden(idx)`, under the key "tok_emb.weight"; the policy
then GPTQs it like any linear layer (at the bits its rule gives). Off, the passes are exactly as before.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

import torch
from torch import Tensor, nn

from pgolf.errors import PgolfError
from pgolf.model.layers import CastedLinear
from pgolf.quant.config import GPTQConfig
from pgolf.quant.generate import generate


@torch.no_grad()
def collect_hessians(model: nn.Module, batches: Iterable[Tensor], autocast=None,
                     embeddings: bool = False) -> dict[str, Tensor]:
    """Run `model.logits` on each token batch (B, T) and return {weight name: mean XᵀX (fp32, CPU)}. With
    `embeddings` (a tied model), `model.hidden` runs instead (the logits are only F.linear of it with the tied
    embedding) and its outputs give "tok_emb.weight"'s Hessian."""
    sums: dict[str, Tensor] = {}
    counts: dict[str, int] = {}
    handles = []
    if embeddings and getattr(model, "lm_head", None) is not None:
        raise PgolfError("quant.gptq.embeddings: the model's embeddings are not tied (model.tie_embeddings=true "
                         "expected)")

    def add(name: str, x: Tensor) -> None:
        x = x.detach().reshape(-1, x.shape[-1]).float()
        if name not in sums:
            sums[name] = torch.zeros(x.shape[1], x.shape[1], device=x.device)
            counts[name] = 0
        sums[name].addmm_(x.T, x)
        counts[name] += x.shape[0]

    def hook_for(name: str):
        def hook(mod: nn.Module, inputs, output) -> None:
            add(name, inputs[0])

        return hook

    def run(idx: Tensor) -> None:
        if embeddings:
            add("tok_emb.weight", model.hidden(idx))
        else:
            model.logits(idx)

    for name, mod in model.named_modules():
        if isinstance(mod, CastedLinear):
            handles.append(mod.register_forward_hook(hook_for(name + ".weight")))
    was_training = model.training
    model.eval()
    try:
        for idx in batches:
            if autocast is not None:
                with autocast():
                    run(idx)
            else:
                run(idx)
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        for name in sorted(sums):
            torch.distributed.all_reduce(sums[name])
            c = torch.tensor(float(counts[name]), device=sums[name].device)
            torch.distributed.all_reduce(c)
            counts[name] = int(c.item())
    return {n: (sums[n] / max(counts[n], 1)).cpu() for n in sums}


def calibration_batches(model: nn.Module, g: GPTQConfig, loader, device: torch.device, log: Callable[[str], None],
                        batch_tokens: int, seq_len: int, seed: int) -> list[Tensor]:
    """Token batches for `collect_hessians`, from the training loader or sampled from the model. batch_tokens,
    seq_len and seed are the run's train.* values, used where the gptq block leaves its own at 0."""
    if g.calibration == "train":
        n_tok = g.batch_tokens or batch_tokens
        return [loader.next_batch(n_tok, seq_len, 1)[0] for _ in range(g.batches)]
    seq = g.gen_seq_len or seq_len
    toks = generate(model, g.batches * g.gen_batch, seq, g.temperature, g.seed or seed, g.gen_batch, device, log)
    return [toks[i: i + g.gen_batch].to(device) for i in range(0, toks.shape[0], g.gen_batch)]


def calibrate(model: nn.Module, gptq: GPTQConfig | None, loader, device: torch.device,
              log: Callable[[str], None] = print, autocast=None, *, batch_tokens: int, seq_len: int,
              seed: int) -> dict[str, Tensor] | None:
    """The run's post-training step: Hessians when quant.gptq is configured, else None (train.* values explicit)."""
    if gptq is None:
        return None
    t0 = time.perf_counter()
    batches = calibration_batches(model, gptq, loader, device, log, batch_tokens, seq_len, seed)
    t1 = time.perf_counter()
    H = collect_hessians(model, batches, autocast, gptq.embeddings)
    n_tok = sum(b.numel() for b in batches)
    log(f"gptq calibration ({gptq.calibration}): {len(H)} Hessians from {n_tok:,} tokens | "
        f"data {t1 - t0:.1f} s + hooks {time.perf_counter() - t1:.1f} s")
    return H
