"""Progressive training context (#2014): the stage rule against #2014's published schedule, bad input, the re-warmup
factor against a naive recomputation, the primed shapes, tiny(), and a tiny run whose micro-batches follow the plan
(and whose priming visits every stage before the timer, then restores the state)."""

from __future__ import annotations

import pytest

from pgolf.config import override, validate
from pgolf.errors import PgolfError
from pgolf.model.features.recurrence import LoopSwitch
from pgolf.recipes import tiny
from pgolf.train.priming import priming_shapes
from pgolf.train.progressive_context import (
    ContextSchedule,
    ProgressiveContextConfig,
    parse_stages,
    seq_len_at,
)

C2014 = ProgressiveContextConfig(("1024@0.100", "2048@0.700", "3072@1.000"), 32)  # train_seed42.log of #2014


def test_stage_rule_of_2014():
    plan = parse_stages(C2014.stages)
    assert plan == [(0.1, 1024), (0.7, 2048), (1.0, 3072)]
    table = {0.0: 1024, 0.1: 1024, 0.1001: 2048, 0.5: 2048, 0.7: 2048, 0.7001: 3072, 1.0: 3072, 1.3: 3072}
    assert {p: seq_len_at(plan, p) for p in table} == table
    assert parse_stages(("512@0.5",)) == [(0.5, 512), (1.0, 512)]  # the last length holds to the end


@pytest.mark.parametrize("bad", [("1024",), ("x@0.5",), ("1024@0",), ("1024@1.5",), ("-4@0.5",), ()])
def test_bad_stages_are_one_line_errors(bad):
    with pytest.raises(PgolfError, match="train.progressive_context.stages"):
        parse_stages(bad)


def test_rewarmup_factor_against_a_naive_recomputation():
    cs = ContextSchedule(ProgressiveContextConfig(("8@0.3", "16@1.0"), 4))
    factors, lens = [], []
    for step in range(10):
        cs.update(step, step / 10)
        factors.append(cs.lr_factor(step))
        lens.append(cs.seq_len)
    change = lens.index(16)  # the first step past progress 0.3
    assert change == 4 and lens[:4] == [8] * 4
    naive = [1.0 if s < change else min(1.0, (s - change + 1) / 4) for s in range(10)]
    assert factors == naive
    assert ContextSchedule(ProgressiveContextConfig(("8@0.3", "16@1.0"), 0)).lr_factor(5) == 1.0


def test_priming_shapes_cover_every_stage_and_loop_state():
    class M:
        looping = True

        def set_looping(self, on):
            self.looping = on

    cs = ContextSchedule(C2014)
    assert priming_shapes(cs, LoopSwitch(M(), 0.35), None) == [(1024, False), (2048, False), (2048, True),
                                                                (3072, True)]
    assert priming_shapes(None, None, None) == [(None, None)]
    assert priming_shapes(None, LoopSwitch(M(), 0.0), None) == [(None, True)]


def test_config_checks(tiny_cfg):
    cfg = override(tiny_cfg, {"train.progressive_context": {"stages": ("64@0.5", "128@1.0")}})
    with pytest.raises(PgolfError, match="longest stage must equal train.seq_len=256"):
        validate(cfg)
    with pytest.raises(PgolfError, match=r"\[96\]"):
        validate(override(tiny_cfg, {"train.progressive_context": {"stages": ("96@0.5", "256@1.0")}}))
    full = override(tiny_cfg, {"train.seq_len": 3072, "train.batch_tokens": 3072 * 8,
                               "train.progressive_context": {"stages": C2014.stages}})
    small = validate(tiny(full))
    assert small.train.progressive_context.stages == ("64@0.1", "128@0.7", "256@1")


def test_tiny_run_follows_the_plan(tiny_cfg, tmp_path, monkeypatch):
    from pgolf.data.loader import DistributedTokenLoader
    from pgolf.train.run import run

    seen = []
    orig = DistributedTokenLoader.next_batch

    def spy(self, batch_tokens, seq_len, accum):
        seen.append(seq_len)
        return orig(self, batch_tokens, seq_len, accum)

    monkeypatch.setattr(DistributedTokenLoader, "next_batch", spy)
    cfg = override(tiny_cfg, {"train.iterations": 6, "train.warmup_steps": 1, "train.batch_tokens": 4 * 256,
                              "train.progressive_context": {"stages": ("64@0.2", "128@0.5", "256@1.0"),
                                                            "rewarmup_steps": 2}})
    run(cfg, tmp_path, echo=False)
    # priming: one step per stage (restored afterwards); then steps 0..5 at progress step/6 (0, .17, .33, .5, .67, .83)
    assert seen == [64, 128, 256] + [64, 64, 128, 128, 256, 256]
    log = (tmp_path / "train.log").read_text()
    assert "context 128 from step 2" in log and "context 256 from step 4" in log
