"""The bundled single-file train_gpt.py: self-contained, deterministic, and it reproduces the package's run exactly."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys

import pytest

from pgolf.artifact.bundle import _StripDocstrings, build, import_closure, minify, source_literal, wrap
from pgolf.cli import main
from pgolf.config import override
from pgolf.train.shipped import shipped_code, shipped_config


def test_minify_keeps_every_statement_of_every_bundled_module():
    closure = import_closure()
    assert {"pgolf", "pgolf.train.entry", "pgolf.train.run", "pgolf.model.gpt", "pgolf.eval.run"} <= set(closure)
    assert not any(n.startswith(("pgolf.recipes", "pgolf.commands", "pgolf.cli")) for n in closure)
    for name, (path, _) in closure.items():
        src = path.read_text(encoding="utf-8")
        mini = minify(src)
        # the same tree once docstrings are gone (comments never reach the AST), and nothing left to strip
        assert ast.dump(ast.parse(mini)) == ast.dump(_StripDocstrings().visit(ast.parse(src))), name
        assert minify(mini) == mini and "#" not in "".join(
            line for line in mini.splitlines() if line.lstrip().startswith("#")), name
        if ast.get_docstring(ast.parse(src)):
            assert len(mini) < len(src), name


TRICKY = [
    "x = 1\n",
    "s = '\\n'  # a backslash then n in the source\n",
    'd = """doc"""\n',
    "t = \"it's\"\n",
    "y = 'a'",  # ends with a quote
    "z = 1 + \\",  # ends with a backslash
    "u = '\u00e9\u2192'\n",
    "q = \"'''\"\n",  # holds the delimiter
]


@pytest.mark.parametrize("src", TRICKY)
def test_source_literal_round_trips(src):
    lit = source_literal(src)
    assert ast.literal_eval(lit) == src
    assert lit.startswith("r'''") == ("'''" not in src and not src.endswith(("'", "\\")))


def test_every_bundled_source_ships_unescaped(tiny_cfg):
    from pgolf.artifact.bundle import bundled_sources, rename_locals

    mods, _ = bundled_sources(tiny_cfg)
    raw = 0
    for _, src in mods.values():
        for s in (src, rename_locals(src)):
            lit = source_literal(s)
            assert ast.literal_eval(lit) == s
            raw += lit.startswith("r'''")
    assert raw >= 0.9 * 2 * len(mods)  # the escape-free form is the rule, repr the exception


def test_build_is_deterministic_and_follows_the_config(tiny_cfg):
    a, b = build(tiny_cfg, "tiny"), build(tiny_cfg, "tiny")
    assert a == b and a.startswith(b"import lzma,base64\nexec(") and len(a.splitlines()) == 2
    c = build(override(tiny_cfg, {"train.seed": 7}), "tiny")
    assert c != a


@pytest.mark.parametrize("how", ["b85", "latin1"])
def test_wrap_carries_every_byte_value(tmp_path, how):
    import hashlib
    import lzma
    import random

    blob = random.Random(0).randbytes(30_000)
    program = f"import hashlib;print(hashlib.sha256({blob!r}).hexdigest())".encode()
    packed = lzma.compress(program)
    assert {0, 10, 13, 39, 92} <= set(packed)  # the bytes a literal needs escaped all occur
    script = tmp_path / "s.py"
    script.write_bytes(wrap(packed, how))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == hashlib.sha256(blob).hexdigest()
    if how == "latin1":
        assert len(script.read_bytes()) < 1.1 * len(packed) < len(wrap(packed, "b85"))


def _python(script_args, cwd, fake_root):
    """A fresh interpreter with `fake_root` first on the path, then the pgolf under test (not another install)."""
    import pgolf

    under_test = os.path.dirname(os.path.dirname(pgolf.__file__))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(fake_root), under_test])}
    return subprocess.run([sys.executable, *script_args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600)


def _losses(run_dir):
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [json.loads(x)["loss"] for x in lines if '"loss"' in x]


def test_bundle_runs_without_the_package_and_reproduces_its_run(tiny_cfg, tmp_path):
    # a decoy `pgolf` first on the path: importing the installed package instead of the bundle's copy fails loudly
    fake = tmp_path / "fake"
    (fake / "pgolf").mkdir(parents=True)
    (fake / "pgolf" / "__init__.py").write_text("raise ImportError('the installed pgolf was imported')\n")
    cfg = override(tiny_cfg, {"train.iterations": 4})
    script = tmp_path / "train_gpt.py"
    script.write_bytes(shipped_code(cfg, "tiny"))  # the file a submission ships: data paths given at run time
    where = ["--data", cfg.data.path, "--tokenizer", cfg.data.tokenizer]

    bundled = _python([str(script), "--out", str(tmp_path / "bundled"), *where], tmp_path, fake)
    assert bundled.returncode == 0, bundled.stderr[-3000:]
    # the package's own entry point on the same config (no decoy), same thread count, in a fresh process
    pkg_code = ("import json,sys;from pgolf.train.entry import run_bundled;"
                f"sys.exit(run_bundled(json.loads({json.dumps(json.dumps(_cfg_dict(shipped_config(cfg))))}),"
                f"'tiny',sys.argv[1:]))")
    package = _python(["-c", pkg_code, "--out", str(tmp_path / "package"), *where], tmp_path,
                      tmp_path / "empty")
    assert package.returncode == 0, package.stderr[-3000:]

    lb, lp = _losses(tmp_path / "bundled"), _losses(tmp_path / "package")
    assert len(lb) == 4 and lb == lp
    sb = json.loads((tmp_path / "bundled" / "summary.json").read_text())
    sp = json.loads((tmp_path / "package" / "summary.json").read_text())
    assert sb["val_bpb"] == sp["val_bpb"] and sb["model_bytes"] == sp["model_bytes"]
    # the bundle counts itself; the package counts the bundle it would ship — the same bytes
    assert sb["code_bytes"] == script.stat().st_size == sp["code_bytes"]
    assert (sb["code_bytes_method"], sp["code_bytes_method"]) == ("bundle-file", "bundle")
    assert sb["env"]["git"] is None


def _cfg_dict(cfg):
    from pgolf.config import to_dict

    return to_dict(cfg)


def test_bundle_refuses_bad_input_in_one_line(tiny_cfg, tmp_path):
    script = tmp_path / "train_gpt.py"  # the latin-1 wrap here (the run test above uses base85)
    script.write_bytes(build(override(tiny_cfg, {"artifact.code_wrap": "latin1"}), "tiny"))
    assert script.read_bytes().startswith(b"# -*- coding: latin-1 -*-\n")
    r = _python([str(script), "--dry-run", "train.iterationz=3"], tmp_path, tmp_path / "none")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "train.iterationz" in r.stderr
    ok = _python([str(script), "--dry-run", "train.iterations=3"], tmp_path, tmp_path / "none")
    assert ok.returncode == 0 and json.loads(ok.stdout)["config"]["train"]["iterations"] == 3


def test_bundle_cli_from_a_run_matches_the_counted_code_bytes(tiny_cfg, tmp_path, capsys):
    from pgolf.train.run import run

    s = run(tiny_cfg, tmp_path / "r", recipe="tiny", echo=False)
    out = tmp_path / "train_gpt.py"
    assert main(["bundle", "--from-run", str(tmp_path / "r"), "-o", str(out)]) == 0
    assert out.stat().st_size == s["code_bytes"] and s["code_bytes_method"] == "bundle"
    capsys.readouterr()
    assert main(["size", str(tmp_path / "r" / "model.pga"), "--json"]) == 0
    size = json.loads(capsys.readouterr().out)
    assert size["code_bytes"] == s["code_bytes"] and size["total_bytes"] == s["artifact_bytes"]
    assert main(["bundle", "--from-run", str(tmp_path / "missing"), "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "config.json" in err
