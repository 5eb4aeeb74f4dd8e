"""Progressive training context: train on short sequences first and lengthen them in stages (#2014).

Idea: early in training the model mostly learns short-range statistics, so short contexts buy more steps per second;
the long context is only needed later (and for a longer evaluation context). Source: openai/parameter-golf #2014
(`TRAIN_SEQ_SCHEDULE=1024@0.100,2048@0.700,3072@1.000`, `TRAIN_SEQ_SCHEDULE_MODE=wallclock`,
`SEQ_CHANGE_WARMUP_STEPS=32`; SPEC_FRONTIER.md §5.6, §7(b′)): 1.05759 with 3072 evaluation context.

Maths (pure functions, as #2014's `current_train_seq_len`): stages "L@p" sorted by p; at progress q the sequence
length is the L of the first stage with q ≤ p (the last stage's L past the end). Progress is pgolf's
max(step/iterations, elapsed/cap) (the one the LR schedule and the loop switch use; with a wallclock cap that binds it
is #2014's wallclock fraction). After each change the LR scale is multiplied by a linear re-warmup
(k + 1)/rewarmup_steps over the next `rewarmup_steps` steps (k = steps since the change; 0 = off), as #2014 does.

Trainer state, explicit (DESIGN principle 6): `ContextSchedule.seq_len` is read by the step function for every
micro-batch (train.batch_tokens stays fixed: more, shorter rows early; with `data.loader=packed` the documents are
cut at the current length and, with model.varlen, attention too). The schedule's largest length must equal
train.seq_len and every length must split the micro-batch into whole rows. Priming (train/run.py) runs the warm-up
steps at every stage's length (and loop state) before the timer, then restores the state, as #2014's
compile_shape_warmup. A checkpoint resume recomputes the stage from progress at the next step (a re-warmup in
progress at the checkpoint restarts; logged).
"""

from __future__ import annotations

from dataclasses import dataclass

from pgolf.errors import PgolfError


@dataclass(frozen=True)
class ProgressiveContextConfig:
    """Training sequence length by progress stages "L@p" (#2014), with an LR re-warmup after each change."""

    stages: tuple[str, ...] = ("1024@0.1", "2048@0.7", "3072@1.0")
    rewarmup_steps: int = 32


def parse_stages(stages: tuple[str, ...], key: str = "train.progressive_context.stages") -> list[tuple[float, int]]:
    """("1024@0.1", …) → [(0.1, 1024), …] sorted by progress, ending at progress 1.0."""
    plan = []
    for raw in stages:
        seq, sep, prog = str(raw).partition("@")
        try:
            seq_len, p = int(seq), float(prog)
        except ValueError:
            seq_len, p = 0, -1.0
        if not sep or seq_len <= 0 or not 0 < p <= 1:
            raise PgolfError(f"{key}: expected entries 'LEN@PROGRESS' with LEN > 0 and PROGRESS in (0, 1], got {raw!r}")
        plan.append((p, seq_len))
    if not plan:
        raise PgolfError(f"{key}: expected at least one 'LEN@PROGRESS' stage")
    plan.sort(key=lambda s: s[0])
    if plan[-1][0] < 1.0:
        plan.append((1.0, plan[-1][1]))
    return plan


def seq_len_at(plan: list[tuple[float, int]], progress: float) -> int:
    """The stage length at `progress`: the first stage whose threshold is ≥ progress (#2014's rule)."""
    for threshold, seq_len in plan:
        if progress <= threshold:
            return seq_len
    return plan[-1][1]


def context_checks(cfg: ProgressiveContextConfig, seq_len: int, batch_tokens: int,
                   grad_accum: int) -> list[tuple[bool, str, str]]:
    """(ok, key, message) for config validation."""
    plan = parse_stages(cfg.stages)
    key = "train.progressive_context.stages"
    bad = sorted({s for _, s in plan if batch_tokens % (grad_accum * s)})
    return [
        (max(s for _, s in plan) == seq_len, key, f"the longest stage must equal train.seq_len={seq_len}"),
        (not bad, key, f"lengths {bad} do not split train.batch_tokens/grad_accum into whole rows"),
        (cfg.rewarmup_steps >= 0, "train.progressive_context.rewarmup_steps", "must be ≥ 0"),
    ]


class ContextSchedule:
    """The trainer's side: the current length (read by the step function) and the re-warmup after a change."""

    def __init__(self, cfg: ProgressiveContextConfig):
        self.cfg, self.plan = cfg, parse_stages(cfg.stages)
        self.seq_len = self.plan[0][1]
        self.changed_at: int | None = None

    def lengths(self) -> list[tuple[float, float, int]]:
        """(start, end, length) of every stage, for priming."""
        out, start = [], 0.0
        for end, s in self.plan:
            out.append((start, end, s))
            start = end
        return out

    def update(self, step: int, progress: float) -> bool:
        """Before each step: → True on the step whose length differs from the previous one."""
        s = seq_len_at(self.plan, progress)
        if s == self.seq_len:
            return False
        self.seq_len = s
        self.changed_at = step if step > 0 and self.cfg.rewarmup_steps > 0 else None
        return True

    def lr_factor(self, step: int) -> float:
        """Linear re-warmup (k + 1)/n for the n = rewarmup_steps steps after a change, else 1."""
        if self.changed_at is None:
            return 1.0
        f = min(max((step - self.changed_at + 1) / self.cfg.rewarmup_steps, 0.0), 1.0)
        if f >= 1.0:
            self.changed_at = None
        return f

    def describe(self) -> str:
        stages = ", ".join(f"{s} until {p:g}" for p, s in self.plan)
        return f"progressive context: {stages}; LR re-warmup {self.cfg.rewarmup_steps} steps after each change"
