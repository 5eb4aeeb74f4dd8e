"""Two-lane parallel residuals: from a physical layer on, attention and MLP read and write two residual lanes.

Idea: let the late blocks' attention and MLP run side by side on separate streams with learned routing. Source:
#1529's two-lane routing as used by #1530 … #1855 (`PARALLEL_START_LAYER=8`, `PARALLEL_FINAL_LANE=mean`);
SPEC_FRONTIER.md §2.2, §7(a) item 7.

Maths, for every virtual slot whose physical block i ≥ start_layer (lanes both start as the incoming x):
  a = attn_scale ⊙ Attn(RMSNorm(m0⊙lane0 + m1⊙x0)·s_i)      (resid_mix m reads lane0 and x0)
  m = mlp_scale ⊙ MLP(RMSNorm(lane1)·s_i)                   (the MLP reads lane1 directly)
  lane0 ← λ_a·lane0 + p_a0·a + p_m0·m,   lane1 ← λ_m·lane1 + p_a1·a + p_m1·m
with λ = parallel_resid_lambdas[k] (init 1.1) and p = parallel_post_lambdas[k] = [[p_a0, p_a1], [p_m0, p_m1]]
(init 1), k = i − start_layer (#1855's layout; stored flat, 1-D, so they stay fp32 like every control vector). U-Net skips are added to lane0 only; the final hidden state is (lane0 + lane1)/2.
Physical indexing (as #1855): a looped block uses the same scalars on every pass.

Params: 6 scalars per parallel layer, 6·(L − start) = 18 at L=11, start 8. #1855 allocates (11, 2, 2) + (11, 2)
= 66 (the SPEC's count) but reads only rows 8..10; rows 0..7 never get a gradient, so they are not built here
unless `all_layers` (the pr1855/pr2135 recipes, for the record's exact parameter count; row k = physical layer i).
They are scalar-Adam control tensors (`pgolf.optim.routing.BASE_CONTROLS`). Per position, so causal.
Constraints (validated): the lanes must begin in the decoder and, once begun, every later slot must be parallel
(with recurrence: start_layer > loop_end); backout, if on, must sit before the lanes.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

from pgolf.model.layers import rms_norm


@dataclass(frozen=True)
class ParallelResidualConfig:
    """Two residual lanes from physical layer `start_layer` on (#1855: 8 of 11)."""

    start_layer: int = 8
    resid_init: float = 1.1
    post_init: float = 1.0
    # allocate the scalars for every layer as #1855 does ((L, 2, 2) + (L, 2) = 66 at L=11; rows before start_layer
    # never get a gradient): only for an exact parameter count / state-dict parity with the record
    all_layers: bool = False


def two_lane_block(block, lane0: Tensor, lane1: Tensor, x0: Tensor, post: Tensor, resid: Tensor,
                   ve: Tensor | None = None, v0: Tensor | None = None, cu_seqlens: Tensor | None = None,
                   max_seqlen: int = 0) -> tuple[Tensor, Tensor, Tensor]:
    """One block on the two lanes → (lane0, lane1, the attention's raw V). post (2, 2), resid (2,)."""
    dt = lane0.dtype
    mix = block.resid_mix.to(dt)
    h = rms_norm(mix[0] * lane0 + mix[1] * x0)
    g = rms_norm(lane1)
    if block.ln_scale is not None:
        h, g = h * block.ln_scale, g * block.ln_scale
    # varlen only when given, so stand-ins for attention.forward (quant/generate.py's KV cache) keep working
    kw = {} if cu_seqlens is None else {"cu_seqlens": cu_seqlens, "max_seqlen": max_seqlen}
    a, v = block.attn(h, ve, v0, **kw)
    a = block.attn_scale.to(dt) * a
    m = block.mlp_scale.to(dt) * block.mlp(g)
    post, resid = post.to(dt), resid.to(dt)
    lane0 = resid[0] * lane0 + post[0, 0] * a + post[1, 0] * m
    lane1 = resid[1] * lane1 + post[0, 1] * a + post[1, 1] * m
    return lane0, lane1, v


def parallel_checks(start: int, orders: list[list[int]], unet_skips: bool,
                    backout_layer: int | None) -> list[tuple[bool, str, str]]:
    """(ok, key, message) for `model.parallel_residual.start_layer` against every schedule the model can run."""
    key = "model.parallel_residual.start_layer"
    out = [(1 <= start < len(orders[0]), key, f"must be in [1, {len(orders[0]) - 1}]")]
    for order in orders:
        first = next((j for j, i in enumerate(order) if i >= start), len(order))
        n_enc = len(order) // 2 if unet_skips else 0
        out.append((first >= n_enc, key, f"lanes must start in the decoder (first parallel slot {first} < {n_enc})"))
        out.append((all(i >= start for i in order[first:]), key,
                    "every slot after the first parallel one must be parallel (with recurrence: > loop_end)"))
    if backout_layer is not None:
        out.append((backout_layer < start, "model.backout.layer", f"must be < parallel start_layer={start}"))
    return out
