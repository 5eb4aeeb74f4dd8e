"""Model ⇄ artifact file: prune, quantize by policy (RTN or GPTQ), ±1-prune to the budget, pack, compress; and the
exact inverse back to a GPT.

The file stores the model config, the per-tensor quantization metadata and the storage layout next to the arrays,
so `pgolf eval` rebuilds the model from the artifact alone. The post-training pipeline, in order:
magnitude pruning (quant.prune) → quantization by the policy table, GPTQ where Hessians are given (quant.gptq; the
tied embedding too with quant.gptq.embeddings; salient column groups at int8 with quant.awq) →
selective ±1 pruning until code + model ≤ target (quant.selective_prune) → pack (artifact.storage) → codec.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

import torch
from torch import Tensor, nn

import pgolf
from pgolf.artifact.codecs import CODEC_IDS, compress_report
from pgolf.artifact.pack import FILE_MAGIC, encode_file, pack, write_atomic
from pgolf.artifact.pergroup import encode_file_pergroup, read_artifact
from pgolf.config import Config, ModelConfig, from_dict, to_dict
from pgolf.errors import PgolfError
from pgolf.quant.policy import dequantize_state_dict, policy_for, quantize_state_dict


def quantize_model_state(state: Mapping[str, Tensor], cfg: Config, hessians: Mapping[str, Tensor] | None = None,
                         log: Callable[[str], None] | None = None) -> tuple[dict[str, Tensor], dict[str, dict]]:
    """GPTQ runs on the GPU when there is one (the log line says which device), else on the CPU."""
    q = cfg.quant
    if q.prune is not None:
        from pgolf.quant.prune import magnitude_prune

        state = magnitude_prune(state, q.prune)
    gptq = None
    if q.gptq is not None and hessians:
        from pgolf.quant.gptq import gptq_quantize

        dev = "cuda" if torch.cuda.is_available() else "cpu"
        (log or (lambda m: None))(f"gptq: {len(hessians)} Hessians, quantizing on {dev}")
        gptq = partial(gptq_quantize, cfg=q.gptq, device=dev)
    policy = policy_for(cfg)
    awq = None
    if q.awq is not None and gptq is not None:
        from pgolf.quant.awq import select

        awq = (select(state, hessians, policy, q.awq), q.awq)
        (log or (lambda m: None))(f"awq: int{q.awq.bits} groups of {q.awq.group} columns in "
                                  f"{len(awq[0])} matrices ({q.awq.scope} top {q.awq.top_k})")
    tensors, qmeta = quantize_state_dict(state, policy, hessians, gptq, awq)
    if q.lqer is not None:
        from pgolf.quant.lqer import apply_lqer

        tensors, qmeta, _ = apply_lqer(state, tensors, qmeta, q.lqer, log)
    return tensors, qmeta


def int_bits(qmeta: Mapping[str, dict]) -> dict[str, int]:
    """Array name → bit width of every int8 array holding N-bit values (quantized tensors and LQER factors)."""
    from pgolf.quant.awq import awq_bits
    from pgolf.quant.lqer import factor_bits

    return {**{n: i["bits"] for n, i in qmeta.items() if i.get("kind") == "int"}, **factor_bits(qmeta),
            **awq_bits(qmeta)}


def file_meta(cfg: Config, qmeta: dict) -> dict:
    return {"pgolf": pgolf.__version__, "model": to_dict(cfg.model), "tensors": qmeta,
            "storage": cfg.artifact.storage}


def encode_tensors(tensors: dict[str, Tensor], qmeta: dict, cfg: Config) -> tuple[bytes, dict]:
    a = cfg.artifact
    t0 = time.perf_counter()
    if a.pergroup is not None:
        data, info = encode_file_pergroup(tensors, file_meta(cfg, qmeta), int_bits(qmeta), a.storage, a.codec,
                                          a.pergroup)
        return data, {"codec": "pergroup", "model_bytes": len(data), "storage": a.storage, "pergroup": info,
                      "encode_seconds": time.perf_counter() - t0}
    payload = pack(tensors, file_meta(cfg, qmeta), a.storage, int_bits(qmeta))
    codec, blob, sizes = compress_report(payload, a.codec, a.level)
    data = FILE_MAGIC + bytes([CODEC_IDS[codec]]) + blob
    return data, {"codec": codec, "model_bytes": len(data), "payload_bytes": len(payload), "storage": a.storage,
                  "codec_sizes": sizes, "encode_seconds": time.perf_counter() - t0}


def encode_model(state: Mapping[str, Tensor], cfg: Config, hessians: Mapping[str, Tensor] | None = None,
                 code_bytes: int = 0, log: Callable[[str], None] | None = None) -> tuple[bytes, dict, dict[str, Tensor]]:
    """→ (file bytes, info, the dequantized state the file decodes to)."""
    tensors, qmeta = quantize_model_state(state, cfg, hessians, log)
    info: dict = {}
    sp = cfg.quant.selective_prune
    if sp is not None:
        from pgolf.quant.prune import selective_prune

        target = sp.target_bytes or cfg.artifact.max_bytes
        sizer = lambda ts: len(encode_tensors(ts, qmeta, cfg)[0]) + code_bytes
        tensors, info["selective_prune"] = selective_prune(tensors, qmeta, sizer, target, tuple(sp.bits),
                                                           log or (lambda s: None))
    blob, enc = encode_tensors(tensors, qmeta, cfg)
    info.update(enc)
    if any(i.get("lqer") for i in qmeta.values()):
        info["lqer"] = lqer_cost(tensors, qmeta, cfg, enc["codec"])
        (log or (lambda m: None))(f"lqer: factors of {', '.join(info['lqer']['tensors'])} cost "
                                  f"{info['lqer']['payload_bytes']:,} payload bytes, "
                                  f"{info['lqer']['compressed_bytes']:,} compressed alone ({enc['codec']})")
    return blob, info, dequantize_state_dict(tensors, qmeta)


def lqer_cost(tensors: Mapping[str, Tensor], qmeta: Mapping[str, dict], cfg: Config, codec: str) -> dict:
    """Bytes of the LQER factor arrays alone: in the payload (data + array entries) and compressed with the file's
    codec (at artifact.level when that codec was asked for by name)."""
    from pgolf.artifact.codecs import compress
    from pgolf.quant.lqer import SUFFIXES, factor_bits

    names = sorted(n for n, i in qmeta.items() if i.get("lqer"))
    arrays = {n + x: tensors[n + x] for n in names for x in SUFFIXES}
    storage = cfg.artifact.storage
    empty = pack({}, {}, storage)
    payload = pack(arrays, {}, storage, factor_bits(qmeta))
    level = cfg.artifact.level if cfg.artifact.codec == codec else None
    return {"tensors": names, "payload_bytes": len(payload) - len(empty),
            "compressed_bytes": len(compress(payload, codec, level)) - len(compress(empty, codec, level))}


def export_model(model: nn.Module, cfg: Config, path: Path, hessians: Mapping[str, Tensor] | None = None,
                 code_bytes: int = 0, log: Callable[[str], None] | None = None) -> tuple[dict, dict[str, Tensor]]:
    blob, info, deq = encode_model(model.state_dict(), cfg, hessians, code_bytes, log)
    write_atomic(Path(path), blob)
    return info, deq


def load_artifact(path: Path) -> tuple[ModelConfig, dict[str, Tensor], dict]:
    """→ (model config, dequantized state dict, info with codec/file_bytes/decompress_seconds)."""
    arrays, meta, info = read_artifact(Path(path))
    try:
        mcfg = from_dict(ModelConfig, meta["model"], prefix="model")
        qmeta = meta["tensors"]
    except (KeyError, TypeError):
        raise PgolfError(f"{path}: artifact metadata lacks the model config or tensor table") from None
    try:
        state = dequantize_state_dict(arrays, qmeta)
    except (KeyError, ValueError, TypeError) as e:
        raise PgolfError(f"{path}: inconsistent artifact tensors ({e})") from None
    return mcfg, state, info


def load_model(path: Path, device: torch.device | str = "cpu") -> tuple[nn.Module, dict]:
    from pgolf.model.gpt import GPT

    mcfg, state, info = load_artifact(path)
    model = GPT(mcfg)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise PgolfError(f"{path}: tensors do not match the model config ({str(e).splitlines()[0]})") from None
    return model.to(device), info


__all__ = ["encode_file", "encode_model", "encode_tensors", "export_model", "load_artifact", "load_model",
           "quantize_model_state"]
