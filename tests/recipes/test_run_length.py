"""`tiny` keeps every step-bound schedule's share of the run (pgolf.recipes.run_length): warmdown, Muon momentum
warmup, EMA horizon, SWA and checkpoint cadence scale by tiny steps / the recipe's reported steps."""

from __future__ import annotations

import pytest

from pgolf.commands import recipe_config
from pgolf.config import Config, override
from pgolf.recipes import get_recipe, tiny
from pgolf.recipes.run_length import ema_decay_for, scaled_schedules

EMA_RECIPES = ["pr601", "pr1473"]


@pytest.mark.parametrize("decay,ratio", [(0.997, 0.1), (0.999, 0.05), (0.99, 0.5), (0.9, 1.0)])
def test_ema_horizon_scales_by_the_ratio(decay, ratio):
    assert 1 / (1 - ema_decay_for(decay, ratio)) == pytest.approx(ratio / (1 - decay), rel=1e-9)


def test_ema_horizon_is_at_least_two_steps():
    assert ema_decay_for(0.997, 1e-4) == 0.5  # the config requires 0 < decay < 1


@pytest.mark.parametrize("name", EMA_RECIPES)
@pytest.mark.parametrize("steps", [20, 30, 300])
def test_tiny_ema_forgets_the_initial_weights(name, steps):
    """Share of the initial weights left in the EMA after the run is d^steps. At full size it is ~0 (0.997^6891);
    kept unscaled in a 30-step tiny run it was 0.997^30 = 91% (issue 16: EMA scored 3.65 vs 3.03 for the last
    weights). Scaled, the tiny run ends where the full one does: the initial weights are gone."""
    r = get_recipe(name)
    full = r.build()
    assert full.train.ema.decay ** r.reported["steps"] < 1e-6
    assert full.train.ema.decay ** steps > 0.4  # what the unscaled tiny run kept
    small = recipe_config(name, True, [f"train.iterations={steps}"])
    assert small.train.iterations == steps and small.train.ema.decay ** steps < 1e-3


def test_pr1473_tiny_300_keeps_the_full_runs_shares():
    r = get_recipe("pr1473")
    full, small = r.build(), recipe_config("pr1473", True, ["train.iterations=300"])
    ratio = 300 / r.reported["steps"]
    assert small.schedule.warmdown_iters == round(full.schedule.warmdown_iters * ratio)  # 4000 of 6891 → 174 of 300
    assert small.optim.muon_momentum_warmup_steps == round(full.optim.muon_momentum_warmup_steps * ratio)
    assert 1 / (1 - small.train.ema.decay) == pytest.approx(ratio / (1 - full.train.ema.decay))


@pytest.mark.parametrize("name", ["pr198", "pr295", "pr443"])
def test_swa_cadence_scales_and_snapshots_fit_the_warmdown(name):
    r = get_recipe(name)
    full = r.build()
    for steps in (20, 200):
        small = tiny(full, steps, r.reported["steps"])
        assert small.train.swa.every == max(1, round(full.train.swa.every * steps / r.reported["steps"]))
        assert small.train.swa.every < small.schedule.warmdown_iters <= steps  # several snapshots fit


def test_explicit_overrides_win_over_the_scaling():
    small = recipe_config("pr1473", True, ["train.iterations=300", "train.ema.decay=0.99",
                                            "schedule.warmdown_iters=7"])
    assert (small.train.ema.decay, small.schedule.warmdown_iters) == (0.99, 7)


def test_checkpoint_cadence_and_bounds():
    cfg = override(Config(), {"train.iterations": 1000, "train.checkpoint.every": 200,
                              "schedule.warmdown_iters": 5000, "optim.muon_momentum_warmup_steps": 1})
    ch = scaled_schedules(cfg, 10)
    assert ch["train.checkpoint.every"] == 2 and ch["schedule.warmdown_iters"] == 10  # never longer than the run
    assert ch["optim.muon_momentum_warmup_steps"] == 1  # at least one step
