"""Standard evaluation (eval/standard.py): non-overlapping windows against a brute-force per-token loop."""

from __future__ import annotations

from _evalkit import _threads, brute_setup, window_brute  # noqa: F401 (_threads: autouse; brute_setup: fixture `setup`)

from pgolf.eval.standard import eval_standard, trim_val
from pgolf.runtime.dist import init_runtime


def test_standard_eval_equals_brute_force(setup):
    model, tokens, lut, tables = setup
    rt = init_runtime("cpu")
    val = trim_val(tokens, 32)
    r = eval_standard(model, val, 32, 96, lut, rt)
    loss, bpb, n, b = window_brute(model, val, 32, 32, tables)
    assert r.scored_tokens == n == 31 * 32 and r.scored_bytes == b
    assert abs(r.val_loss - loss) < 1e-5 and abs(r.val_bpb - bpb) < 1e-5
