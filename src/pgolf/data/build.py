"""`pgolf data build`: documents → challenge shards, the way the challenge's exporter does it, on every core.

Export rule (openai/parameter-golf data/download_hf_docs_and_tokenize.py; SPEC_SEEDS.md §4.4): each document becomes
[BOS] + sp.encode(text) (no EOS); the first `val_docs` documents are val, the rest train; each split is one
concatenated stream cut into shards of `shard_tokens` tokens (documents straddle shards). Optional caps cut a
split's stream after N tokens (`val_tokens`, `train_tokens`): the proxy corpus in ../shared is exactly the val
stream cut at 4,000,000 tokens and the train stream cut at 20,000,000 in 10,000,000-token shards.

Speed: worker processes (spawned; `workers`, default all cores) each parse JSON, encode with SentencePiece and pack
uint16 in parallel; the parent only reads/decompresses inputs and writes shards, with a bounded number of batches
in flight, so memory stays flat on any corpus size. Safety: every shard is written atomically into a temporary
directory that replaces `out` only when the build succeeded; a document of train whose text equals a val
document's (blake2b-128 of the text) is refused unless `allow_duplicates`; manifest.json records doc/token counts,
sha256 of every input, of the tokenizer and of every shard.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import multiprocessing
import os
import shutil
import threading
import time
from collections import deque
from pathlib import Path

import numpy as np

from pgolf.data.checksum import sha256_file
from pgolf.data.corpus import Batch, InputStats, check_inputs, iter_batches, total_bytes
from pgolf.data.progress import Progress
from pgolf.data.shards import header_bytes, write_shard
from pgolf.data.tokenizer import check_byte_accounting, load_sentencepiece
from pgolf.data.verify import BUILD_FORMAT
from pgolf.errors import PgolfError

_SP = None
BATCH_BYTES = 1 << 18  # text per worker task: small enough to balance the cores, large enough to amortise IPC


def _init_worker(model: str) -> None:
    global _SP
    _SP = load_sentencepiece(model)


def encode_batch(batch: Batch, text_field: str) -> tuple[np.ndarray, np.ndarray, list[bytes], str, int]:
    """One batch → (flat uint16 [BOS]+ids per doc, per-doc token counts, per-doc text hashes, source, first line)."""
    texts = batch.items
    if batch.kind == "jsonl":
        texts = []
        for i, line in enumerate(batch.items):
            try:
                texts.append(json.loads(line)[text_field])
            except (ValueError, KeyError, TypeError) as e:
                what = f"no {text_field!r} field" if isinstance(e, (KeyError, TypeError)) else "invalid JSON"
                raise PgolfError(f"{batch.source}:{batch.first + i}: {what}") from None
            if not isinstance(texts[-1], str):
                raise PgolfError(f"{batch.source}:{batch.first + i}: {text_field!r} is not a string")
    enc = _SP.encode(texts, out_type=int, num_threads=1)
    sizes = np.fromiter(map(len, enc), dtype=np.int64, count=len(enc))
    ids = np.fromiter(itertools.chain.from_iterable(enc), dtype=np.uint16, count=int(sizes.sum()))
    out = np.insert(ids, np.cumsum(sizes) - sizes, _SP.bos_id())
    lens = sizes + 1
    hashes = [hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=16).digest() for t in texts]
    return out, lens, hashes, batch.source, batch.first


class _SplitWriter:
    """Cuts one split's stream into shards (atomic writes), optionally capped at `cap` tokens."""

    def __init__(self, out: Path, split: str, shard_tokens: int, cap: int):
        self.out, self.split, self.cap = out, split, cap
        self.buf = np.empty(shard_tokens, dtype=np.uint16)
        self.fill = self.tokens = self.dropped = 0
        self.files: list[dict] = []

    @property
    def full(self) -> bool:
        return bool(self.cap) and self.tokens >= self.cap

    def add(self, toks: np.ndarray) -> None:
        if self.cap:
            keep = max(0, min(toks.size, self.cap - self.tokens))
            self.dropped += toks.size - keep
            toks = toks[:keep]
        pos = 0
        while pos < toks.size:
            take = min(self.buf.size - self.fill, toks.size - pos)
            self.buf[self.fill : self.fill + take] = toks[pos : pos + take]
            self.fill, pos = self.fill + take, pos + take
            if self.fill == self.buf.size:
                self.flush()
        self.tokens += toks.size

    def flush(self) -> None:
        if not self.fill:
            return
        name = f"fineweb_{self.split}_{len(self.files):06d}.bin"
        body = self.buf[: self.fill]
        write_shard(self.out / name, body)
        digest = hashlib.sha256(header_bytes(self.fill))
        digest.update(body.astype("<u2", copy=False).tobytes())
        self.files.append({"name": name, "split": self.split, "tokens": int(self.fill), "sha256": digest.hexdigest()})
        self.fill = 0


def build_corpus(docs: list[Path], tokenizer: Path, out: Path, val_docs: int, shard_tokens: int = 10**8,
                 val_tokens: int = 0, train_tokens: int = 0, workers: int = 0, text_field: str = "text",
                 force: bool = False, allow_duplicates: bool = False, log=print, progress: bool = True) -> dict:
    out, tokenizer = Path(out), Path(tokenizer)
    for name, v in (("--val-docs", val_docs), ("--val-tokens", val_tokens), ("--train-tokens", train_tokens)):
        if v < 0:
            raise PgolfError(f"{name}: expected ≥ 0, got {v}")
    if shard_tokens <= 0 or shard_tokens >= 2**31:
        raise PgolfError(f"--shard-tokens: expected 1 … 2^31−1, got {shard_tokens}")
    docs = check_inputs(docs)
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise PgolfError(f"{out}: exists and is not empty (pass --force to replace it)")
    sp = load_sentencepiece(tokenizer)
    check_byte_accounting(sp, tokenizer)
    if sp.vocab_size() > 65536:
        raise PgolfError(f"{tokenizer}: vocab {sp.vocab_size()} does not fit uint16 shards")
    workers = workers or os.cpu_count() or 1
    tmp = out.parent / f".{out.name}.building-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    how = "in this process" if workers == 1 else f"{workers} {_pool_context().get_start_method()}ed processes"
    log(f"build: {len(docs)} input(s) → {out} | tokenizer {tokenizer} (vocab {sp.vocab_size()}) | encoding "
        f"{how}, SentencePiece 1 thread each | shards of {shard_tokens:,} tokens")
    t0 = time.perf_counter()
    try:
        manifest = _run(docs, tokenizer, tmp, val_docs, shard_tokens, val_tokens, train_tokens, workers, text_field,
                        allow_duplicates, log, progress, sp)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    if out.exists():
        out.rename(old)
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
    dt = time.perf_counter() - t0
    total = manifest["val_tokens"] + manifest["train_tokens"] + manifest["dropped"]["val_tokens"]
    log(f"build: {manifest['val_docs']:,} val docs / {manifest['val_tokens']:,} tokens, {manifest['train_docs']:,} "
        f"train docs / {manifest['train_tokens']:,} tokens, {len(manifest['files'])} shards in {dt:.1f} s "
        f"({total / dt / 1e6:.2f}M tok/s)")
    return manifest


def _pool_context():
    """fork (instant start, inherits the loaded modules) when this process runs no other thread, else spawn."""
    if "fork" in multiprocessing.get_all_start_methods() and threading.active_count() == 1:
        return multiprocessing.get_context("fork")
    return multiprocessing.get_context("spawn")


def _batches_encoded(batches, tokenizer: Path, workers: int, text_field: str):
    if workers == 1:
        _init_worker(str(tokenizer))
        for b in batches:
            yield encode_batch(b, text_field)
        return
    with _pool_context().Pool(workers, initializer=_init_worker, initargs=(str(tokenizer),)) as pool:
        pending: deque = deque()
        for b in batches:
            pending.append(pool.apply_async(encode_batch, (b, text_field)))
            if len(pending) >= 2 * workers:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()


def _run(docs, tokenizer, tmp, val_docs, shard_tokens, val_tokens, train_tokens, workers, text_field,
         allow_duplicates, log, show, sp) -> dict:
    stats: list[InputStats] = []
    bar = Progress("build", total_bytes(docs), enabled=show)
    writers = {"val": _SplitWriter(tmp, "val", shard_tokens, val_tokens),
               "train": _SplitWriter(tmp, "train", shard_tokens, train_tokens)}
    val_hashes: set[bytes] = set()
    val_digest = hashlib.sha256()
    n_docs = {"val": 0, "train": 0}
    dupes, first_dupe, stopped_early = 0, None, False
    batches = iter_batches(docs, stats, text_field, batch_bytes=BATCH_BYTES, progress=bar)
    gen = _batches_encoded(batches, tokenizer, workers, text_field)
    try:
        for toks, lens, hashes, source, first in gen:
            ends = np.cumsum(lens)
            d0 = n_docs["val"] + n_docs["train"]
            k = int(min(max(val_docs - d0, 0), lens.size))  # docs of this batch that are val
            if k:
                writers["val"].add(toks[: ends[k - 1]])
                val_hashes.update(hashes[:k])
                for h in hashes[:k]:
                    val_digest.update(h)
                n_docs["val"] += k
            if k < lens.size:
                for j in range(k, lens.size):
                    if hashes[j] in val_hashes:
                        dupes += 1
                        first_dupe = first_dupe or f"{source}:{first + j} (document #{d0 + j})"
                if dupes and not allow_duplicates:
                    raise PgolfError(f"{first_dupe}: a train document with the same text as a val document — val "
                                     f"and train overlap (pass --allow-duplicates to keep it)")
                w = writers["train"]
                room = w.cap - w.tokens if w.cap else None
                w.add(toks[ends[k - 1] if k else 0 :])
                starts = np.cumsum(lens[k:]) - lens[k:]  # docs with at least one token written count as train
                n_docs["train"] += int(starts.size if room is None else np.count_nonzero(starts < room))
            bar.set(docs=n_docs["val"] + n_docs["train"], tokens=writers["val"].tokens + writers["train"].tokens)
            if writers["train"].full:
                stopped_early = True
                break
    finally:
        gen.close()
    bar.done()
    if n_docs["val"] < val_docs:
        raise PgolfError(f"--val-docs {val_docs}: the inputs hold only {n_docs['val']} documents")
    for w in writers.values():
        w.flush()
    for st in stats:
        if not st.sha256:  # stopped before the end of this input: hash the whole file for the record
            st.bytes, st.sha256 = Path(st.path).stat().st_size, sha256_file(Path(st.path))
            st.extra["read_completely"] = False
    if dupes:
        log(f"build: WARNING {dupes} train document(s) duplicate val documents (kept: --allow-duplicates)")
    v, t = writers["val"], writers["train"]
    manifest = {
        "format": BUILD_FORMAT, "created_by": "pgolf data build",
        "tokenizer": {"path": str(tokenizer), "sha256": sha256_file(tokenizer), "vocab_size": int(sp.vocab_size()),
                      "bos_id": int(sp.bos_id())},
        "inputs": [{"path": s.path, "bytes": s.bytes, "sha256": s.sha256, "docs_read": s.docs, **s.extra}
                   for s in stats],
        "text_field": text_field, "bos_per_doc": True, "append_eos": False,
        "docs": n_docs["val"] + n_docs["train"], "val_docs": n_docs["val"], "train_docs": n_docs["train"],
        "val_tokens": v.tokens, "train_tokens": t.tokens, "shard_tokens": shard_tokens,
        "val_tokens_cap": val_tokens or None, "train_tokens_cap": train_tokens or None,
        "dropped": {"val_tokens": v.dropped, "train_tokens": t.dropped, "stopped_at_train_cap": stopped_early},
        "val_docs_fingerprint": val_digest.hexdigest(),
        "overlap_check": {"method": "blake2b-128 of each document's text", "val_train_duplicates": dupes,
                          "allowed": bool(allow_duplicates)},
        "files": v.files + t.files,
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest
