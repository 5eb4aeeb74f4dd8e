"""Shared fixtures: a small real tokenizer and challenge-format shards built from Python's own docs.

Nothing here needs ../shared or the network; tests that use ../shared skip cleanly without it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from pgolf.config import Config, override

# ../shared beside the checkout; a git worktree one level deeper (e.g. /work/wt/NAME) finds it further up.
SHARED = next((p / "shared" for p in Path(__file__).resolve().parents[2:4] if (p / "shared").is_dir()),
              Path(__file__).resolve().parents[2] / "shared")
TEST_VOCAB = 512


def shared_path(*parts: str) -> Path:
    p = SHARED.joinpath(*parts)
    if not p.exists():
        pytest.skip(f"../shared not available ({p})")
    return p


@pytest.fixture(scope="session")
def docs() -> list[str]:
    from pgolf.data.demo_corpus import collect_documents

    return collect_documents()[:120]


@pytest.fixture(scope="session")
def tokenizer_path(tmp_path_factory, docs) -> Path:
    from pgolf.data.tokenizer import train_tokenizer

    out = tmp_path_factory.mktemp("tok")
    return train_tokenizer(docs, TEST_VOCAB, out / "tok", num_threads=2)


@pytest.fixture(scope="session")
def caseops_tokenizer_path(tmp_path_factory, docs) -> Path:
    """A CaseOps SentencePiece model (operators at ids 4–7) trained on the CaseOps-encoded docs."""
    from pgolf.data.caseops import encode
    from pgolf.data.caseops_tokenizer import TRAINER_OPTIONS
    from pgolf.data.tokenizer import train_tokenizer

    out = tmp_path_factory.mktemp("caseops_tok")
    return train_tokenizer(map(encode, docs), TEST_VOCAB, out / "tok", num_threads=2, **TRAINER_OPTIONS)


@pytest.fixture(scope="session")
def shard_dir(tmp_path_factory, docs, tokenizer_path) -> Path:
    """val = first 12 docs, train = the rest, each doc [BOS] + ids (the challenge's export)."""
    from pgolf.data.shards import write_shard
    from pgolf.data.tokenizer import load_sentencepiece

    sp = load_sentencepiece(tokenizer_path)
    out = tmp_path_factory.mktemp("shards")
    enc = sp.encode(docs, out_type=int)
    flat = [np.asarray([sp.bos_id(), *ids], dtype=np.uint16) for ids in enc]
    write_shard(out / "fineweb_val_000000.bin", np.concatenate(flat[:12]))
    train = np.concatenate(flat[12:])
    half = train.size // 2
    write_shard(out / "fineweb_train_000000.bin", train[:half])
    write_shard(out / "fineweb_train_000001.bin", train[half:])
    return out


@pytest.fixture
def tiny_cfg(shard_dir, tokenizer_path) -> Config:
    from pgolf.recipes import get_recipe

    return override(get_recipe("tiny").build(), {
        "model.vocab_size": TEST_VOCAB, "data.path": str(shard_dir), "data.tokenizer": str(tokenizer_path),
        "train.iterations": 6, "train.batch_tokens": 4 * 256, "eval.max_tokens": 4096, "eval.batch_tokens": 2048,
        "train.log_every": 1, "train.device": "cpu",
    })


def stubbed_lines(path: str) -> dict[int, str]:
    """Line → function name for every line of a function body a bundle's stub replaces (pgolf.artifact.bundle_prune:
    top-level functions, methods of non-dataclass classes): lines that run only when such a function is called."""
    import ast

    out: dict[int, str] = {}
    for st in ast.parse(Path(path).read_text(encoding="utf-8")).body:
        funcs = [st] if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)) else [
            b for b in st.body if isinstance(b, (ast.FunctionDef, ast.AsyncFunctionDef))
        ] if isinstance(st, ast.ClassDef) and not any("dataclass" in ast.unparse(d) for d in st.decorator_list) else []
        for f in funcs:
            out.update({line: f.name for line in range(f.body[0].lineno, f.end_lineno + 1)})
    return out


@pytest.fixture
def no_pruned_code():
    """`with no_pruned_code(cfg): …` runs the block under coverage of the modules the bundle of `cfg` ships as stubs
    and fails if a function body of one ran (the bundle would raise there). The bundler itself is left out: a run
    in the package counts the bundle it would ship; a bundle counts its own file. Coverage's C tracer follows only the
    watched files, so the block runs at nearly full speed."""
    import contextlib

    import coverage

    from pgolf.artifact.bundle_prune import pruned_modules

    @contextlib.contextmanager
    def watch(cfg):
        import pgolf

        src = Path(pgolf.__file__).parent
        files, only = [], {}  # only: file → the functions "module:function" entries stub (whole modules: all)
        keys = pruned_modules(cfg)
        for key in keys:
            m, _, fn = key.partition(":")
            rel = Path(*m.split(".")[1:])
            for p in (src / rel / "__init__.py", (src / rel).with_suffix(".py")):
                if p.is_file() and m != "pgolf.artifact.bundle":
                    files.append(str(p))
                    if fn and m not in keys:
                        only.setdefault(str(p), set()).add(fn)
        cov = coverage.Coverage(data_file=None, include=files, branch=False)
        cov.set_option("run:disable_warnings", ["no-data-collected"])  # none ran: the expected, passing case
        cov.start()
        try:
            yield files
        finally:
            cov.stop()
        data = cov.get_data()
        ran = sorted({(Path(f).name, fn) for f in set(files) for line, fn in stubbed_lines(f).items()
                      if line in set(data.lines(f) or ()) and (f not in only or fn in only[f])})
        assert not ran, f"functions of modules this config's bundle stubs ran: {ran}"

    return watch


def pytest_addoption(parser):
    parser.addoption("--threads", type=int, default=2,
                     help="torch intra-op threads for every test (the suite must pass with 1 and with 2)")


@pytest.fixture(autouse=True)
def _threads(request):
    torch.set_num_threads(request.config.getoption("--threads"))
    yield
