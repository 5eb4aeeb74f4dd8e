"""Depth recurrence (looped layers): a contiguous range of physical blocks runs `1 + num_loops` times.

Idea: reuse the weights of a few middle blocks to get a deeper virtual net at no parameter cost. Source: PRs
#1204 → #1285 → #1394 → #1493, as run by #1855 (`LOOP_START=3, LOOP_END=5, NUM_LOOPS=2, ENABLE_LOOPING_AT=0.35`);
SPEC_FRONTIER.md §2.1, §7(a) item 4.

Schedule (`virtual_order`, a pure function): [0, …, s−1] + (1 + num_loops)·[s, …, e] + [e+1, …, L−1]; the first
⌊V/2⌋ virtual slots are the U-Net encoder, the rest the decoder. #1855 (L=11, s=3, e=5, 2 loops) → 17 slots,
encoder [0,1,2,3,4,5,3,4], decoder [5,3,4,5,6,7,8,9,10]. num_loops = 0 gives the plain order, bit for bit.

Index conventions (following #1855's code, where `Block(layer_idx=i)` is built per physical layer):
  * per-layer choices are PHYSICAL: ln_scale 1/√(i+1), the XSA and value-embedding layer sets, backout's layer
    (its x_mid is the output of that layer's last pass), the parallel-residual lanes' start layer and scalars;
  * U-Net skips pair VIRTUAL positions: encoder slot j feeds decoder slot n_enc + (n_enc − 1 − j), with one skip
    weight per pair (#1855: min(8, 9) = 8, against 5 without loops) — the only parameters recurrence adds;
  * value residual's v0 is the V of virtual slot 0; LoRA TTT adapters are per VIRTUAL slot (#1855: 17).

Switch: `GPT.looping` is explicit state (a plain bool, never a class flag), set only through `GPT.set_looping`.
A freshly built model loops (the final graph: eval, export and artifact loading see it). The trainer turns it off
at step 0 when `enable_at > 0` and on before the first step whose progress max(step/iterations, elapsed/cap)
reaches `enable_at` (`LoopSwitch`); a checkpoint stores it. After training the model is evaluated and exported
looped, as #1855 evaluates with `looping_active = True`, even if the run stopped before the switch (logged).
Under torch.compile the bool is a guarded attribute: the switch costs one recompile (priming compiles both).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RecurrenceConfig:
    """Physical layers loop_start..loop_end (inclusive) run 1 + num_loops times once progress ≥ enable_at."""

    loop_start: int = 3
    loop_end: int = 5
    num_loops: int = 2
    enable_at: float = 0.35  # fraction of the training budget (0 = loop from step 0)


def virtual_order(num_layers: int, rec: RecurrenceConfig | None) -> list[int]:
    """The physical block index run at each virtual position."""
    if rec is None:
        return list(range(num_layers))
    seg = list(range(rec.loop_start, rec.loop_end + 1))
    return list(range(rec.loop_start)) + seg * (1 + rec.num_loops) + list(range(rec.loop_end + 1, num_layers))


def unet_split(order: list[int]) -> tuple[list[int], list[int]]:
    """(encoder, decoder) virtual slots: the first ⌊V/2⌋ positions encode."""
    n_enc = len(order) // 2
    return order[:n_enc], order[n_enc:]


def recurrence_checks(rec: RecurrenceConfig, num_layers: int) -> list[tuple[bool, str, str]]:
    """(ok, key, message) triples for config validation."""
    return [
        (0 <= rec.loop_start < num_layers, "model.recurrence.loop_start", f"must be in [0, {num_layers - 1}]"),
        (rec.loop_start <= rec.loop_end < num_layers, "model.recurrence.loop_end",
         f"must be in [loop_start={rec.loop_start}, {num_layers - 1}]"),
        (rec.num_loops >= 0, "model.recurrence.num_loops", "must be ≥ 0"),
        (0 <= rec.enable_at < 1, "model.recurrence.enable_at", "must be in [0, 1)"),
    ]


def rescale_loop(rec: RecurrenceConfig, from_layers: int, to_layers: int) -> tuple[int, int]:
    """(loop_start, loop_end) at another depth, proportionally (3..5 of 11 → 1..2 of 4): still the middle."""
    s = min(round(rec.loop_start * to_layers / from_layers), to_layers - 1)
    e = min(max(round(rec.loop_end * to_layers / from_layers), s), to_layers - 1)
    return s, e


class LoopSwitch:
    """The trainer's side of the switch: off at the start (unless enable_at = 0), on at progress ≥ enable_at."""

    def __init__(self, model, enable_at: float):
        self.model, self.enable_at = model, enable_at
        model.set_looping(enable_at <= 0)

    def maybe_switch_on(self, progress: float) -> bool:
        """→ True on the call that switched looping on."""
        if self.model.looping or progress < self.enable_at:
            return False
        self.model.set_looping(True)
        return True

    def finish(self) -> bool:
        """After training: loop for eval/export; → whether training had reached the switch."""
        reached = self.model.looping
        self.model.set_looping(True)
        return reached

    def describe(self) -> str:
        enc, dec = unet_split(self.model.order_looped)
        return (f"recurrence: {len(enc) + len(dec)} virtual layers, encoder {enc} decoder {dec}; looping "
                + ("from step 0" if self.enable_at <= 0 else f"switches on at progress {self.enable_at:g}"))
