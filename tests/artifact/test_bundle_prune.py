"""Feature pruning of the bundle (pgolf.artifact.bundle_prune): a stubbed module never runs, and the bundle refuses an
override that would need one."""

from __future__ import annotations

import ast
import json
import sys
from pathlib import Path

import coverage
import pytest
from conftest import stubbed_lines

from pgolf.artifact.bundle_prune import NEEDED, check, pruned_modules, stub
from pgolf.cli import main
from pgolf.commands import recipe_config
from pgolf.config import override
from pgolf.errors import PgolfError
from pgolf.recipes import REGISTRY, get_recipe

SRC = Path(__file__).resolve().parents[2] / "src"


def _file(module: str) -> str:
    rel = Path(*module.split("."))
    p = SRC / rel / "__init__.py"
    return str(p if p.is_file() else (SRC / rel).with_suffix(".py"))


def test_every_prunable_module_exists_and_predicates_read_only_the_config():
    for key in NEEDED:
        module, _, fn = key.partition(":")
        assert Path(_file(module)).is_file(), key
        if fn:  # a "module:function" entry names a top-level function of that module
            tree = ast.parse(Path(_file(module)).read_text(encoding="utf-8"))
            assert fn in {st.name for st in tree.body if isinstance(st, ast.FunctionDef)}, key
    for name in REGISTRY:
        cfg = get_recipe(name).build()
        assert pruned_modules(cfg) == pruned_modules(cfg)  # pure
        assert set(pruned_modules(cfg)) <= set(NEEDED)


def test_stub_keeps_dataclasses_and_constants_and_raises_for_the_rest():
    src = ("from __future__ import annotations\nfrom dataclasses import dataclass\nimport math\nK = 3\n"
           "@dataclass(frozen=True)\nclass C:\n    x: int = K\n"
           "def f(a):\n    return math.sqrt(a)\nclass M:\n    def g(self):\n        return 1\n")
    tree = stub(ast.parse(src), "pkg.mod")
    ns: dict = {}
    exec(compile(ast.unparse(tree), "<stub>", "exec"), ns)
    assert ns["K"] == 3 and ns["C"]().x == 3
    with pytest.raises(PgolfError, match="pkg.mod was left out of this bundle"):
        ns["f"](4.0)
    with pytest.raises(PgolfError, match="pkg.mod"):
        ns["M"]()
    one = stub(ast.parse(src), "pkg.mod", only="f")  # a "module:function" entry: that function only
    ns = {}
    exec(compile(ast.unparse(one), "<stub>", "exec"), ns)
    assert ns["M"]().g() == 1
    with pytest.raises(PgolfError, match="pkg.mod:f was left out"):
        ns["f"](4.0)
    assert ast.unparse(tree).splitlines()[0] == "from __future__ import annotations"


def test_check_refuses_an_override_that_turns_a_pruned_feature_on():
    cfg = get_recipe("pr1473").build()
    pruned = pruned_modules(cfg)
    assert "pgolf.train.qat" in pruned or cfg.train.qat is not None
    check(cfg, pruned)  # the bundled config itself passes
    on = override(cfg, {"eval.stride": 64})
    if "pgolf.eval.sliding" in pruned:
        with pytest.raises(PgolfError, match=r"pgolf.eval.sliding \(eval.stride\)"):
            check(on, pruned)


TTT = {"eval.ttt.lora.batch_docs": 2, "eval.ttt.phased.prefix_docs": 2, "eval.ttt.lora.rank": 4}


SEEDS = {"pr198", "pr295", "pr443", "pr601", "pr1473"}  # probed in tests/recipes/test_seed_tiny_runs.py's runs


@pytest.mark.parametrize("name", sorted(set(REGISTRY) - SEEDS))
def test_a_tiny_run_never_enters_a_module_its_bundle_prunes(name, shard_dir, tokenizer_path, tmp_path,
                                                            no_pruned_code):
    """Each recipe's tiny training, export and evaluation, in process, under coverage of the modules its bundle
    stubs: no line of a stubbed function runs (the bundle would raise there)."""
    cfg = recipe_config(name, True, ["train.iterations=2"])
    extra = {k: v for k, v in TTT.items() if cfg.eval.ttt is not None and
             (k != "eval.ttt.phased.prefix_docs" or cfg.eval.ttt.phased is not None) and
             (k == "eval.ttt.phased.prefix_docs" or cfg.eval.ttt.lora is not None)}
    words = ["model.vocab_size=512", "train.iterations=2", "train.batch_tokens=512", "eval.max_tokens=1024",
             "eval.batch_tokens=1024", "train.device=cpu", *(f"{k}={v}" for k, v in extra.items())]
    with no_pruned_code(recipe_config(name, True, words, str(shard_dir), str(tokenizer_path))):
        rc = main(["train", "--recipe", name, "--tiny", "--data", str(shard_dir), "--tokenizer",
                   str(tokenizer_path), "--out", str(tmp_path / "r"), *words])
    assert rc == 0
    assert json.loads((tmp_path / "r" / "summary.json").read_text())["status"] != "failed"


def test_the_coverage_probe_sees_a_stubbed_function_run():
    """Control for the test above: the same probe does report a function body that runs."""
    from pgolf.artifact import bundle_shake

    f = bundle_shake.__file__
    cov = coverage.Coverage(data_file=None, include=[f], branch=False)
    cov.start()
    try:
        bundle_shake.names_used(ast.parse("x.y"), set())
    finally:
        cov.stop()
    ran = {fn for line, fn in stubbed_lines(f).items() if line in set(cov.get_data().lines(f) or ())}
    assert ran == {"names_used"}


def test_the_pr1855_bundle_runs_and_refuses_a_pruned_feature(shard_dir, tokenizer_path, tmp_path):
    """The frontier bundle (pyminify + brotli, features pruned) trains, exports and scores with phased TTT on its
    own, counting its own size; an override that needs a stubbed module is refused in one line."""
    import os
    import subprocess

    from pgolf.train.shipped import shipped_code

    words = ["model.vocab_size=512", "train.iterations=2", "train.batch_tokens=512", "eval.max_tokens=1024",
             "eval.batch_tokens=1024", "train.device=cpu", *(f"{k}={v}" for k, v in TTT.items())]
    cfg = recipe_config("pr1855", True, words, str(shard_dir), str(tokenizer_path))
    assert (cfg.artifact.code_minify, cfg.artifact.code_codec) == ("pyminify", "brotli")
    script = tmp_path / "train_gpt.py"
    script.write_bytes(shipped_code(cfg, "pr1855+tiny"))
    assert script.read_bytes().startswith(b"import brotli,base64\n")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    where = ["--data", str(shard_dir), "--tokenizer", str(tokenizer_path)]
    r = subprocess.run([sys.executable, str(script), "--out", str(tmp_path / "b"), *where], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    s = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert s["code_bytes"] == script.stat().st_size and s["code_bytes_method"] == "bundle-file"
    assert s["eval_ttt"]["method"] == "phased" and 0 < s["val_bpb"] < 20
    bad = subprocess.run([sys.executable, str(script), "--out", str(tmp_path / "c"), *where, "train.qat=on"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and "pgolf.train.qat (train.qat)" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr
