"""`pgolf data verify|fineweb|tokenizer|build`: everything a participant does with data (see pgolf.data).
Imports inside the functions are deliberate: torch-free startup (see pgolf.commands)."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

from pgolf.commands import print_json
from pgolf.errors import PgolfError, UsageError


def _logger(args):
    """Log lines go to stdout, or to stderr when --json keeps stdout for the JSON document."""
    return (lambda m: print(m, file=sys.stderr)) if args.json else print


def cmd_verify(args) -> int:
    from pgolf.data.verify import verify_dir

    vocab, bos, sp = args.vocab, args.bos_id, None  # documents counted at --bos-id or the tokenizer's BOS
    if args.tokenizer:
        from pgolf.data.tokenizer import load_sentencepiece

        sp = load_sentencepiece(args.tokenizer)
        if vocab is not None and vocab != sp.vocab_size():
            raise PgolfError(f"{args.tokenizer}: tokenizer vocab {sp.vocab_size()} does not match --vocab {vocab}")
        if bos is not None and bos != sp.bos_id():
            raise PgolfError(f"{args.tokenizer}: tokenizer BOS id {sp.bos_id()} does not match --bos-id {bos}")
        vocab, bos = int(sp.vocab_size()), int(sp.bos_id())
    r = verify_dir(Path(args.dir), vocab, Path(args.tokenizer) if args.tokenizer else None, bos,
                   scan=not args.headers_only, checksums=args.checksums, sp=sp)
    if args.json:
        print_json(r)
    else:
        print(f"{r['dir']}: OK | val {r['val_tokens']:,} tokens in {r['val_files']} shard(s) | train "
              f"{r['train_tokens']:,} tokens in {r['train_files']} shard(s)"
              + (f" | max id {r['max_id']}" if "max_id" in r else "") + f" | manifest: {r['manifest']}"
              + (f" | tokenizer re-encodes {r['tokenizer_docs_reencoded']} docs exactly"
                 if "tokenizer_docs_reencoded" in r else ""))
        print(f"{r['dir']}: val_tokens {r['val_tokens']:,} | target tokens {r['val_targets_T2048']:,} at T=2048 | "
              f"train_shards {r['train_files']}" + _sidecar_line(r["sidecar"]))
    return 0


def _sidecar_line(sc: dict | None) -> str:
    if sc is None:
        return " | no byte sidecar (bytes from the tokenizer's tables)"
    line = f" | byte sidecar {sc['files']} file(s), {sc['values']:,} values, {sc['bytes']:,} bytes"
    if "tokenizer_bytes" in sc:
        line += f" (tokenizer's accounting {sc['tokenizer_bytes']:,}, {sc['bytes'] / sc['tokenizer_bytes'] - 1:+.4%})"
    return line


def cmd_fineweb(args) -> int:
    from pgolf.data.fineweb import fetch_fineweb

    r = fetch_fineweb(args.variant, Path(args.dir), args.train_shards, args.repo, args.remote_root, args.endpoint,
                      args.revision, log=_logger(args), progress=not args.no_progress)
    if args.json:
        print_json(r)
    return 0


def cmd_tokenizer(args) -> int:

    from pgolf.data.caseops import is_caseops_tokenizer
    from pgolf.data.caseops_tokenizer import TRAINER_OPTIONS, audit_caseops, check_caseops_tokenizer
    from pgolf.data.corpus import check_inputs
    from pgolf.data.tokenizer import (
        audit_tokenizer,
        check_byte_accounting,
        load_sentencepiece,
        train_tokenizer,
    )

    def texts(limit: int | None):
        return itertools.islice(iter_texts(check_inputs(args.input), args.text_field), limit)

    if args.check:
        model = Path(args.check)
    else:
        if not args.output or not args.vocab:
            raise UsageError("pgolf data tokenizer", "--vocab N and -o PREFIX are required to train (or --check MODEL)")
        kind = "CaseOps (#1729: operators at ids 4–7) " if args.caseops else ""
        print(f"tokenizer: training {kind}SentencePiece BPE, vocab {args.vocab}, the challenge's spec, on "
              f"{args.max_docs or 'all'} docs of {len(args.input)} input(s)")
        if args.caseops:
            from pgolf.data.caseops import encode

            model = train_tokenizer(map(encode, texts(args.max_docs or None)), args.vocab, Path(args.output),
                                    num_threads=args.threads, **TRAINER_OPTIONS)
        else:
            model = train_tokenizer(texts(args.max_docs or None), args.vocab, Path(args.output),
                                    num_threads=args.threads)
    sp = load_sentencepiece(model)
    check_byte_accounting(sp, model)
    caseops = args.caseops or is_caseops_tokenizer(sp)
    if caseops:
        check_caseops_tokenizer(sp, model)
        r = audit_caseops(sp, texts(args.audit_docs) if args.input else [], model)
    else:
        r = audit_tokenizer(sp, texts(args.audit_docs) if args.input else [], model)
    if args.json:
        print_json(r)
    else:
        print(f"{model}: vocab {r['vocab_size']} | byte pieces {r['byte_pieces']} | '▁' id {r['space_piece_id']}"
              + (" | CaseOps operators at ids 4–7" if caseops else "")
              + (f" | {r['bytes_per_token']:.3f} bytes/token, byte coverage {r['byte_coverage']:.5f}"
                 + ("" if caseops else f", {r['unk_tokens']} <unk>") + f" on {r['docs']} docs" if r["tokens"] else ""))
        if not r["byte_pieces"]:
            print(f"{model}: note — no byte-fallback pieces: characters outside the vocab become <unk> and count "
                  f"0 bytes in bpb")
    return 0


def iter_texts(paths, text_field: str):
    """Documents for tokenizer training, cleaned as the challenge's trainer does (NUL → space, stripped, no empties)."""
    from pgolf.data.corpus import iter_batches

    for b in iter_batches(paths, [], text_field):
        for i, item in enumerate(b.items):
            if b.kind == "jsonl":
                try:
                    item = json.loads(item)[text_field]
                except (ValueError, KeyError, TypeError):
                    raise PgolfError(f"{b.source}:{b.first + i}: invalid JSON or no {text_field!r} field") from None
            text = item.replace("\x00", " ").strip()
            if text:
                yield text


def cmd_build(args) -> int:
    from pgolf.data.build import build_corpus

    m = build_corpus([Path(p) for p in args.docs], Path(args.tokenizer), Path(args.out), args.val_docs,
                     args.shard_tokens, args.val_tokens, args.train_tokens, args.workers, args.text_field,
                     args.force, args.allow_duplicates, log=_logger(args), progress=not args.no_progress,
                     caseops=args.caseops, noncanonical_val=args.noncanonical_val)
    if args.json:
        print_json({k: v for k, v in m.items() if k != "files"} | {"files": len(m["files"])})
    return 0


def register(sub) -> None:
    d = sub.add_parser("data", help="verify shards, download FineWeb, train tokenizers, build shards from documents")
    verbs = d.add_subparsers(dest="data_verb", required=True, parser_class=type(d))

    v = verbs.add_parser("verify", help="check every shard (format, ids < vocab, manifest counts) → token counts")
    v.add_argument("dir")
    v.add_argument("--tokenizer", help="SentencePiece .model: ids must be < its vocab; must match the manifest")
    v.add_argument("--vocab", type=int, help="vocabulary size to check ids against (without a tokenizer)")
    v.add_argument("--bos-id", type=int, help="count documents at this token id (default: the tokenizer's BOS; "
                   "with neither, documents are not counted)")
    v.add_argument("--headers-only", action="store_true", help="skip the token scan (headers and sizes only)")
    v.add_argument("--checksums", action="store_true", help="sha256 every shard (compared with a pgolf manifest)")
    v.add_argument("--json", action="store_true")
    v.set_defaults(fn=cmd_verify)

    f = verbs.add_parser("fineweb", help="download the published challenge shards + tokenizer (resumable, verified)")
    f.add_argument("--variant", default="sp1024", help="sp1024 | sp4096 | sp8192 | sp8192_caseops | … (dataset fineweb10B_<variant>)")
    f.add_argument("--train-shards", type=int, help="train shards to fetch (default 80, or all if fewer)")
    f.add_argument("--dir", default="data", help="local root (manifest.json, datasets/, tokenizers/)")
    f.add_argument("--repo", help="HF dataset repo (default per variant, e.g. willdepueoai/parameter-golf)")
    f.add_argument("--remote-root", default="datasets", help="folder of the export inside the repo")
    f.add_argument("--revision", default="main")
    f.add_argument("--endpoint", help="https://… (plain urllib), or a local directory / file:// URL laid out like "
                   "the repo; default: huggingface_hub if installed, else urllib against huggingface.co")
    f.add_argument("--no-progress", action="store_true")
    f.add_argument("--json", action="store_true")
    f.set_defaults(fn=cmd_fineweb)

    t = verbs.add_parser("tokenizer", help="train a SentencePiece BPE with the challenge's spec, or --check one")
    t.add_argument("--input", nargs="+", default=[], help="documents: .jsonl/.txt/.parquet, optionally .xz/.gz/.zst")
    t.add_argument("--vocab", type=int)
    t.add_argument("-o", "--output", help="model prefix (writes PREFIX.model and PREFIX.vocab)")
    t.add_argument("--max-docs", type=int, default=0, help="train on the first N documents (0 = all)")
    t.add_argument("--threads", type=int, default=0, help="SentencePiece trainer threads (0 = its default)")
    t.add_argument("--check", metavar="MODEL", help="audit an existing model instead of training (a CaseOps model "
                   "is recognised by its operators and must have them at ids 4–7)")
    t.add_argument("--caseops", action="store_true", help="CaseOps (#1729): train on case-transformed documents "
                   "with the operators U+E001..E004 reserved at ids 4–7; with --check, require a CaseOps model")
    t.add_argument("--audit-docs", type=int, default=1000, help="documents of --input used for the byte audit")
    t.add_argument("--text-field", default="text")
    t.add_argument("--json", action="store_true")
    t.set_defaults(fn=cmd_tokenizer)

    b = verbs.add_parser("build", help="documents → challenge shards ([BOS]+tokens per doc; val = first N docs)")
    b.add_argument("--docs", nargs="+", required=True, help=".jsonl/.txt/.parquet inputs, optionally .xz/.gz/.zst")
    b.add_argument("--tokenizer", required=True)
    b.add_argument("--out", required=True)
    b.add_argument("--val-docs", type=int, default=50_000, help="the first N documents are val (challenge: 50,000)")
    b.add_argument("--shard-tokens", type=int, default=10**8, help="tokens per shard (challenge: 100,000,000)")
    b.add_argument("--val-tokens", type=int, default=0, help="cut the val stream after N tokens (0 = keep all)")
    b.add_argument("--train-tokens", type=int, default=0, help="stop after N train tokens (0 = all documents)")
    b.add_argument("--workers", type=int, default=0, help="encoding processes (0 = all cores)")
    b.add_argument("--text-field", default="text")
    b.add_argument("--force", action="store_true", help="replace a non-empty --out")
    b.add_argument("--allow-duplicates", action="store_true", help="keep train docs whose text equals a val doc's")
    b.add_argument("--caseops", action="store_true", help="CaseOps (#1729): transform documents, need a CaseOps "
                   "tokenizer, write the val byte sidecar fineweb_val_bytes_*.bin")
    b.add_argument("--noncanonical-val", action="store_true", help="allow a --val-docs other than 50,000 on the "
                   "challenge's FineWeb documents (recorded in the manifest; issue #2127)")
    b.add_argument("--no-progress", action="store_true")
    b.add_argument("--json", action="store_true")
    b.set_defaults(fn=cmd_build)
