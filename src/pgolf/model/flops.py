"""Model FLOPs counted from the config, and the log lines that put them beside the device's peak (MFU).

Idea: every FLOP of a pgolf GPT that matters is a matmul: the linear layers (2·in·out per token) and the two
attention products q·kᵀ and p·v (2·T·D each per query and head). One forward+backward is 3× the forward (the
backward of y = x·W computes x-grad and W-grad, two matmuls of the same size). Elementwise work (norms, RoPE,
softcap, activations, cross entropy) and embedding lookups are not counted, as in the usual 6N + attention estimate
(PaLM appendix B; nanoGPT's `estimate_mfu`).

Attention is counted two ways and every figure says which: "full" counts the whole T×T score matrix — what a plain
SDPA/math kernel computes and what `torch.utils.flop_counter` reports (so the test can check the count exactly);
"causal" counts only the lower triangle (T(T+1)/2 query-key pairs), what a causal FlashAttention kernel really does.
MFU is quoted on the "full" count (the usual convention) against pgolf.runtime.devices' dense bf16 peaks.

Invariant (tests/model/test_flops.py): `model_flops(cfg.model, T).train("full")` equals flop_counter's total for one
forward+backward of the full-size model at batch 1 × T on the meta device, for every registered recipe.
Recurrence: the looped schedule (the graph training ends on and is exported) unless `looping=False`.
"""

from __future__ import annotations

from dataclasses import dataclass

from pgolf.model.features.recurrence import virtual_order
from pgolf.runtime.devices import device_peak, mfu

ATTENTION_MODES = ("full", "causal")


@dataclass(frozen=True)
class ModelFlops:
    """Forward FLOPs of one sequence of `seq_len` tokens, split by kind."""

    seq_len: int
    linear: int  # all linear layers, logits included (2·in·out per token)
    attention_full: int  # q·kᵀ and p·v over the full T×T square
    attention_causal: int  # … over the causal triangle only
    slots: int  # blocks run per forward (virtual slots with recurrence)

    def forward(self, attention: str = "full") -> int:
        if attention not in ATTENTION_MODES:
            raise ValueError(f"attention must be one of {ATTENTION_MODES}, got {attention!r}")
        return self.linear + (self.attention_full if attention == "full" else self.attention_causal)

    def train(self, attention: str = "full") -> int:
        """One forward + backward of the sequence: 3× the forward."""
        return 3 * self.forward(attention)

    def per_token(self, attention: str = "full") -> float:
        """Training (forward + backward) FLOPs per token."""
        return self.train(attention) / self.seq_len


def _block_linear_macs(m, layer: int) -> int:
    """Multiply-accumulates per token of one block's linear layers (attention + MLP + its gate)."""
    d, H = m.model_dim, m.num_heads
    kv = m.num_kv_heads * (d // H)
    hidden = int(round(m.mlp_mult * d))
    macs = d * d + 2 * d * kv + d * d + 2 * d * hidden  # q, k, v, proj; fc, proj
    if m.attn_gate is not None:
        macs += H * (m.attn_gate.window if m.attn_gate.kind == "sparse" else d)
    return macs


def model_flops(m, seq_len: int, looping: bool = True) -> ModelFlops:
    """Count the forward FLOPs of `ModelConfig` m on one sequence of `seq_len` tokens."""
    T, d, V = seq_len, m.model_dim, m.vocab_size
    order = virtual_order(m.num_layers, m.recurrence) if (looping and m.recurrence is not None) \
        else list(range(m.num_layers))
    per_token = sum(_block_linear_macs(m, i) for i in order) + d * V  # blocks + logits
    if m.bigram_hash is not None and m.bigram_hash.dim != d:
        per_token += m.bigram_hash.dim * d
    if m.value_embed is not None:
        kv = m.num_kv_heads * (d // m.num_heads)
        if m.value_embed.dim != kv:
            per_token += m.value_embed.dim * kv
    linear = 2 * T * per_token
    if m.smear_gate is not None and m.smear_gate.kind == "gated":  # reads positions 1..T-1 only
        linear += 2 * (T - 1) * m.smear_gate.window
    # q·kᵀ and p·v: 2 products × 2 FLOPs per MAC × head_dim, for every (query, key) pair and head
    per_pair = 2 * 2 * d  # all H heads of width d/H together
    full = len(order) * per_pair * T * T
    causal = len(order) * per_pair * (T * (T + 1) // 2)
    return ModelFlops(T, linear, full, causal, len(order))


def flops_summary(m, seq_len: int, looping: bool = True) -> dict:
    """Training FLOPs/token of ModelConfig m at `seq_len`, attention full and causal."""
    f = model_flops(m, seq_len, looping=looping)
    return {"flops_per_token": f.per_token("full"), "flops_per_token_causal": f.per_token("causal"),
            "attention_count": "full", "slots": f.slots}


def flop_units(x: float) -> str:
    """1.234 GFLOP, 5.90 MFLOP, 21.3 TFLOP."""
    for unit, div in (("P", 1e15), ("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= div:
            return f"{x / div:.3g} {unit}FLOP"
    return f"{x:.0f} FLOP"


def header_line(m, seq_len: int, device_name: str | None, looping: bool = True) -> str:
    """The FLOPs line the training log prints at start (the numbers `pgolf bench` reports)."""
    s = flops_summary(m, seq_len, looping)
    peak = device_peak(device_name)
    p = f"{peak[0]} dense bf16 peak {peak[1] / 1e12:.0f} TFLOP/s" if peak else "no peak known (FLOP/s only, no MFU)"
    return (f"flops {flop_units(s['flops_per_token'])}/token fwd+bwd (attention full T×T; causal triangle "
            f"{flop_units(s['flops_per_token_causal'])}) | {s['slots']} block slots | {p}")


def mfu_line(m, seq_len: int, device_name: str | None, tokens_per_s: float, looping: bool = True) -> str:
    """Achieved model FLOP/s (and MFU where the peak is known) at a measured throughput."""
    fpt = flops_summary(m, seq_len, looping)["flops_per_token"]
    peak = device_peak(device_name)
    achieved = fpt * tokens_per_s
    tail = f" | MFU {100 * mfu(fpt, tokens_per_s, peak[1]):.1f}% of {peak[0]}" if peak else ""
    return f"model {flop_units(achieved)}/s (attention full){tail}"
