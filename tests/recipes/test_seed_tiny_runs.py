"""`pgolf train --recipe prNNN --tiny …` trains a few steps on CPU for every seed recipe, exports the artifact (0-dim
scalars included) and evaluates the round trip; and the parity harness agrees with a seed script when one is here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pgolf.cli import main
from pgolf.commands import recipe_config

SEEDS = ["pr198", "pr295", "pr443", "pr601", "pr1473"]
MIRROR = Path("/work/.mirror/openai+parameter-golf/repo")


@pytest.mark.parametrize("name", SEEDS)
def test_tiny_seed_run_on_cpu(name, shard_dir, tokenizer_path, tmp_path, capsys, no_pruned_code):
    out = tmp_path / name
    words = ["model.vocab_size=512", "train.iterations=3", "train.batch_tokens=512", "eval.max_tokens=1024",
             "eval.batch_tokens=1024", "train.device=cpu", "train.log_every=1"]
    # and no function of a module this recipe's bundle ships as a stub runs (pgolf.artifact.bundle_prune)
    with no_pruned_code(recipe_config(name, True, words, str(shard_dir), str(tokenizer_path))):
        rc = main(["train", "--recipe", name, "--tiny", "--data", str(shard_dir), "--tokenizer", str(tokenizer_path),
                   "--out", str(out), *words])
    assert rc == 0
    s = json.loads((out / "summary.json").read_text())
    assert s["steps"] == 3 and s["stopped_by"] == "iterations" and 0 < s["val_bpb"] < 20
    # the artifact decodes to (nearly) the same model: a 3-step model's int5/int6 gap is up to ~0.15 bpb (pr198 with
    # the run-length-scaled schedule), a broken decode (wrong order, scale or codec) costs whole bits: bound far from both
    assert abs(s["val_bpb"] - s["val_bpb_prequant"]) < 0.5
    log = (out / "train.log").read_text()
    assert "attention SDPA (CPU)" in log and "step 3/3 | loss" in log
    losses = [json.loads(x)["loss"] for x in (out / "metrics.jsonl").read_text().splitlines() if '"loss"' in x]
    assert len(losses) == 3 and all(0 < v < 10 for v in losses)


def test_parity_harness_on_two_seed_scripts(tmp_path):
    """Runs only where a mirror of openai/parameter-golf is present (the scripts are never vendored)."""
    import subprocess
    import sys

    if not (MIRROR / "HEAD").exists():
        pytest.skip("no local mirror of openai/parameter-golf")
    sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
    import parity_seeds

    for name in ("pr601", "pr1473"):
        ref, path = parity_seeds.SEEDS[name]
        script = tmp_path / f"{name}.py"
        script.write_bytes(subprocess.run(["git", "-C", str(MIRROR), "show", f"{ref}:{path}"], check=True,
                                          capture_output=True).stdout)
        for row in parity_seeds.compare(name, script, lengths=(24,)):
            assert row["ok"] and row["params_tiny"] == row["params_seed_tiny"], row
