"""The built-in demo corpus: real English text that every Python installation already ships.

Documents are the interpreter's own help topics (`pydoc_data.topics`) and the docstrings of its standard-library
modules (read with `ast`, nothing imported), about 2 MB of text. They are shuffled with a fixed seed; the first 10%
are the validation split. A SentencePiece tokenizer is trained on the train split with the challenge's spec, every
document is exported as [BOS] + tokens into challenge-format shards, and the result is cached under
`$PGOLF_CACHE` (default ~/.cache/pgolf) keyed by the Python version and the corpus recipe.
"""

from __future__ import annotations

import ast
import hashlib
import json
import random
import shutil
import sys
import sysconfig
from pathlib import Path

import numpy as np

from pgolf.data.shards import write_shard
from pgolf.data.tokenizer import load_sentencepiece, train_tokenizer
from pgolf.runtime.dist import env_flag

CORPUS_VERSION = 1
VAL_FRACTION = 0.1
VOCAB = 1024
_SKIP = {"test", "tests", "idlelib", "lib2to3", "site-packages", "dist-packages", "ensurepip", "turtledemo",
         "__pycache__", "tkinter", "pydoc_data"}


def cache_root() -> Path:
    return Path(env_flag("PGOLF_CACHE") or Path.home() / ".cache" / "pgolf")


def _module_docs(path: Path) -> str:
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
        return ""
    parts = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node)
            if doc and len(doc) >= 40:
                parts.append(doc.strip())
    return "\n\n".join(parts)


def collect_documents() -> list[str]:
    """Help topics + stdlib docstrings, one document per topic/module, in a fixed shuffled order."""
    from pydoc_data.topics import topics  # a large stdlib module, cold path: only the demo corpus reads it

    docs = [topics[k].strip() for k in sorted(topics) if len(topics[k].strip()) >= 200]
    root = Path(sysconfig.get_paths()["stdlib"])
    for p in sorted(root.rglob("*.py")):
        if any(part in _SKIP for part in p.relative_to(root).parts):
            continue
        text = _module_docs(p)
        if len(text) >= 200:
            docs.append(text)
    random.Random(1234).shuffle(docs)
    return docs


def demo_dir() -> Path:
    key = f"v{CORPUS_VERSION}-py{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}-sp{VOCAB}"
    return cache_root() / f"demo-{key}"


def prepare_demo(log=print) -> tuple[Path, Path]:
    """Build (or reuse) the demo shards and tokenizer → (data_dir, tokenizer_model)."""
    out = demo_dir()
    manifest = out / "manifest.json"
    if manifest.is_file():
        info = json.loads(manifest.read_text())
        log(f"demo corpus: cached at {out} ({info['val_tokens']:,} val + {info['train_tokens']:,} train tokens)")
        return out, out / "tokenizer.model"
    log("demo corpus: collecting Python's help topics and stdlib docstrings …")
    docs = collect_documents()
    n_val = max(1, int(len(docs) * VAL_FRACTION))
    val_docs, train_docs = docs[:n_val], docs[n_val:]
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    log(f"demo corpus: {len(docs)} documents ({sum(map(len, docs)):,} chars); training a {VOCAB}-piece tokenizer …")
    model = train_tokenizer(train_docs, VOCAB, tmp / "tokenizer", num_threads=2)
    sp = load_sentencepiece(model)
    counts = {}
    for split, split_docs in (("val", val_docs), ("train", train_docs)):
        ids = sp.encode(split_docs, out_type=int)
        toks = np.concatenate([np.asarray([sp.bos_id(), *d], dtype=np.uint16) for d in ids])
        write_shard(tmp / f"fineweb_{split}_000000.bin", toks)
        counts[split] = int(toks.size)
    digest = hashlib.sha256("\x00".join(docs).encode()).hexdigest()
    (tmp / "manifest.json").write_text(json.dumps({
        "corpus": "python-docs", "version": CORPUS_VERSION, "python": sys.version.split()[0], "docs": len(docs),
        "val_docs": n_val, "val_tokens": counts["val"], "train_tokens": counts["train"], "sha256": digest,
    }, indent=2))
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    log(f"demo corpus: {counts['val']:,} val + {counts['train']:,} train tokens → {out}")
    return out, out / "tokenizer.model"
