"""Bytes per parameter for each storage layout × codec, on the same quantized values.

    python benchmarks/codecs.py full  [--std-mult 1.0]   # pr1473-shaped Gaussian model, the seeds' int6/int8 policy
    python benchmarks/codecs.py tiny  --artifact RUN/model.pga   # a trained tiny model (re-quantized by the policy)
    python benchmarks/codecs.py tiny [--steps 250] [--threads 1]  # trains one first (demo recipe, fixed steps)

(b) full: 11 layers, d 512, 8/4 heads (kv dim 256), MLP 3x = 1536, vocab 1024 tied, bigram 3072×112 + proj 512×112,
VE 1024×128 + proj 256×128, control tensors; weights N(0, (m/√fan_in)²), embeddings N(0, (m·0.02)²) with m =
--std-mult. Quantized once by the pr1473 table (int6 absmax-floor per-matrix clip search on attn/MLP, int8 pct on
embeddings, fp16 passthrough); then every storage × codec encodes the SAME tensors. The reference is int8
containers + lzma-9. Prints a table: bytes, bytes/param, ratio to the reference, decode seconds (decompress+unpack).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

from pgolf.artifact.codecs import CODEC_IDS, available, compress, decompress
from pgolf.artifact.model_file import int_bits
from pgolf.artifact.pack import pack, unpack
from pgolf.config import Config, override
from pgolf.quant.policy import policy_for, quantize_state_dict


def full_state(std_mult: float, seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    L, d, kv, hid, V = 11, 512, 256, 1536, 1024

    def w(o, i):
        return torch.randn(o, i, generator=g) * std_mult / i**0.5

    sd = {"tok_emb.weight": torch.randn(V, d, generator=g) * 0.02 * std_mult,
          "bigram.embed.weight": torch.randn(3072, 112, generator=g) * 0.02 * std_mult, "bigram.proj.weight": w(d, 112),
          "bigram.scale": torch.tensor(0.05), "smear.gate": torch.zeros(d), "skip_weights": torch.ones(5, d),
          "ve_shared.embed.weight": torch.randn(V, 128, generator=g) * 0.01 * std_mult,
          "ve_shared.proj.weight": w(kv, 128), "ve_shared.scale": torch.tensor(0.1)}
    for i in (9, 10):
        sd[f"ve_layer_scales.{i - 9}"] = torch.ones(1)
    for i in range(L):
        p = f"blocks.{i}."
        sd.update({p + "attn.c_q.weight": w(d, d), p + "attn.c_k.weight": w(kv, d), p + "attn.c_v.weight": w(kv, d),
                   p + "attn.proj.weight": w(d, d), p + "mlp.fc.weight": w(hid, d), p + "mlp.proj.weight": w(d, hid),
                   p + "attn.q_gain": torch.full((8,), 1.5), p + "attn_scale": torch.ones(d),
                   p + "mlp_scale": torch.ones(d), p + "resid_mix": torch.stack((torch.ones(d), torch.zeros(d)))})
    return sd


def tiny_state(artifact: str | None, steps: int) -> tuple[dict[str, torch.Tensor], Config]:
    from pgolf.artifact.model_file import load_artifact

    if artifact is None:
        artifact = _train_tiny(steps)
    mcfg, state, _ = load_artifact(Path(artifact))
    return state, override(Config(), {"model.num_layers": mcfg.num_layers, "quant.keep_float_max_numel": 4096})


def _train_tiny(steps: int) -> str:
    """The demo recipe for a fixed number of steps (not its 75 s cap: a loaded machine would train less), exported
    with fp16 passthrough (keep_float_max_numel at the full-size 65,536) so the benchmark re-quantizes float weights."""
    import numpy as np

    from pgolf.data.demo_corpus import collect_documents
    from pgolf.data.shards import write_shard
    from pgolf.data.tokenizer import load_sentencepiece, train_tokenizer
    from pgolf.recipes import get_recipe
    from pgolf.train.run import run

    out = Path(tempfile.mkdtemp(prefix="pgolf-bench-"))
    docs = collect_documents()
    tok = train_tokenizer(docs, 1024, out / "tok", num_threads=2)
    sp = load_sentencepiece(tok)
    flat = np.concatenate([np.asarray([sp.bos_id(), *ids], np.uint16) for ids in sp.encode(docs, out_type=int)])
    write_shard(out / "fineweb_val_000000.bin", flat[: flat.size // 10])
    write_shard(out / "fineweb_train_000000.bin", flat[flat.size // 10:])
    cfg = override(get_recipe("demo").build(), {"data.path": str(out), "data.tokenizer": str(tok),
                                                "train.device": "cpu", "eval.max_tokens": 16384,
                                                "train.max_wallclock_seconds": 0.0, "train.iterations": steps,
                                                "schedule.warmdown_iters": max(1, steps * 3 // 10),
                                                "quant.keep_float_max_numel": 65_536})
    run(cfg, out / "run", recipe="demo", echo=False)
    print(f"# trained tiny model ({steps} steps): {out / 'run' / 'model.pga'}")
    return str(out / "run" / "model.pga")


def measure(tensors, qmeta, params: int, storages, codecs) -> list[dict]:
    rows = []
    for storage in storages:
        payload = pack(tensors, {"tensors": qmeta}, storage, int_bits(qmeta))
        for codec in codecs:
            t0 = time.perf_counter()
            blob = compress(payload, codec)
            enc = time.perf_counter() - t0
            t0 = time.perf_counter()
            back, _ = unpack(decompress(blob, codec))
            dec = time.perf_counter() - t0
            assert all(torch.equal(back[k], v) for k, v in tensors.items()), (storage, codec)
            rows.append({"storage": storage, "codec": codec, "payload": len(payload), "bytes": len(blob),
                         "bpp": len(blob) / params, "encode_s": enc, "decode_s": dec})
            print(f"  {storage:7s} {codec:7s} {len(blob):>12,} B  {len(blob) / params:.4f} B/param  "
                  f"enc {enc:6.1f} s  dec {dec:5.2f} s", file=sys.stderr, flush=True)
    return rows


def state_args(ap: argparse.ArgumentParser, threads: int = 2) -> None:
    """The arguments that choose and quantize the state (shared with benchmarks/pergroup.py)."""
    ap.add_argument("which", choices=["full", "tiny"])
    ap.add_argument("--artifact")
    ap.add_argument("--std-mult", type=float, default=1.0)
    ap.add_argument("--policy", default="pr1473")
    ap.add_argument("--steps", type=int, default=250, help="tiny: training steps when no --artifact is given")
    ap.add_argument("--threads", type=int, default=threads, help="torch threads (1 on a shared, loaded machine)")


def quantized_state(a) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor], dict, float]:
    """→ (float state, quantized tensors, their meta, quantize seconds): the state `state_args` chose, quantized once
    by --policy."""
    torch.set_num_threads(a.threads)
    if a.which == "full":
        state, cfg = full_state(a.std_mult), override(Config(), {"model.num_layers": 11})
    else:
        state, cfg = tiny_state(a.artifact, a.steps)
    cfg = override(cfg, {"quant.policy": a.policy})
    t0 = time.perf_counter()
    tensors, qmeta = quantize_state_dict(state, policy_for(cfg.quant, cfg.model.num_layers))
    return state, tensors, qmeta, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    state_args(ap)
    ap.add_argument("--storages", default="int8,packed,rans,zigzag_t")
    ap.add_argument("--codecs", default=",".join(CODEC_IDS))
    a = ap.parse_args()
    state, tensors, qmeta, q_s = quantized_state(a)
    params = sum(t.numel() for t in state.values())
    kinds: dict[str, int] = {}
    for n, i in qmeta.items():
        k = f"int{i['bits']}" if i["kind"] == "int" else i["kind"]
        kinds[k] = kinds.get(k, 0) + state[n].numel()
    print(f"# {a.which}: {params:,} params, policy {a.policy}, quantized in {q_s:.1f} s; "
          f"values by kind {kinds}")
    codecs = [c for c in a.codecs.split(",") if available(c)]
    rows = measure(tensors, qmeta, params, a.storages.split(","), codecs)
    ref = next((r["bytes"] for r in rows if r["storage"] == "int8" and r["codec"] == "lzma"), None)
    print(f"{'storage':8s} {'codec':7s} {'bytes':>12s} {'B/param':>8s} {'vs int8+lzma':>12s} {'enc s':>6s} {'dec s':>6s}")
    for r in rows:
        rel = f"{r['bytes'] / ref - 1:+.2%}" if ref else "-"
        print(f"{r['storage']:8s} {r['codec']:7s} {r['bytes']:>12,} {r['bpp']:>8.4f} {rel:>12s} "
              f"{r['encode_s']:>6.1f} {r['decode_s']:>6.2f}")
    best = min(rows, key=lambda r: r["bytes"])
    if ref:
        print(f"best: {best['storage']} + {best['codec']} = {best['bytes']:,} B, {1 - best['bytes'] / ref:.2%} smaller "
              f"than int8 containers + lzma-9 ({ref:,} B)")


if __name__ == "__main__":
    main()
