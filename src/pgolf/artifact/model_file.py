"""Model ⇄ artifact file: run the post-training pipeline (pgolf.quant.pipeline), pack, compress; and the exact
inverse back to a GPT.

The file stores the model config, the per-tensor quantization metadata and the storage layout next to the arrays,
so `pgolf eval` rebuilds the model from the artifact alone. This module only serialises, compresses and counts:
`encode_model` hands the state to `quantize_model_state` (prune → GPTQ/AWQ or RTN → LQER) and, with
quant.selective_prune, to `prune_to_fit` with this module's encoder as the sizer, then packs (artifact.storage) and
compresses (artifact.codec). Functions take the model, quant and artifact blocks explicitly.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

import torch
from torch import Tensor, nn

import pgolf
from pgolf.artifact.codecs import CODEC_IDS, compress, compress_report
from pgolf.artifact.config import ArtifactConfig
from pgolf.artifact.pack import FILE_MAGIC, encode_file, pack, write_atomic
from pgolf.artifact.pergroup import encode_file_pergroup
from pgolf.artifact.read import read_artifact
from pgolf.coerce import from_dict, to_dict
from pgolf.errors import PgolfError
from pgolf.model.config import ModelConfig
from pgolf.model.gpt import GPT
from pgolf.quant.awq import awq_bits
from pgolf.quant.config import QuantConfig
from pgolf.quant.lqer import SUFFIXES, factor_bits
from pgolf.quant.pipeline import prune_to_fit, quantize_model_state
from pgolf.quant.policy import dequantize_state_dict


def int_bits(qmeta: Mapping[str, dict]) -> dict[str, int]:
    """Array name → bit width of every int8 array holding N-bit values (quantized tensors and LQER factors)."""
    return {**{n: i["bits"] for n, i in qmeta.items() if i.get("kind") == "int"}, **factor_bits(qmeta),
            **awq_bits(qmeta)}


def file_meta(model: ModelConfig, qmeta: dict, storage: str, tokenizer: dict | None = None) -> dict:
    """`tokenizer`: the record of the data the model was trained on (pgolf.data.tokenizer_id); eval refuses another."""
    meta = {"pgolf": pgolf.__version__, "model": to_dict(model), "tensors": qmeta, "storage": storage}
    if tokenizer is not None:
        meta["tokenizer"] = tokenizer
    return meta


def encode_tensors(tensors: dict[str, Tensor], qmeta: dict, model: ModelConfig,
                   a: ArtifactConfig, tokenizer: dict | None = None) -> tuple[bytes, dict]:
    t0 = time.perf_counter()
    meta = file_meta(model, qmeta, a.storage, tokenizer)
    if a.pergroup is not None:
        data, info = encode_file_pergroup(tensors, meta, int_bits(qmeta), a.storage, a.codec, a.pergroup)
        return data, {"codec": "pergroup", "model_bytes": len(data), "storage": a.storage, "pergroup": info,
                      "encode_seconds": time.perf_counter() - t0}
    payload = pack(tensors, meta, a.storage, int_bits(qmeta))
    codec, blob, sizes = compress_report(payload, a.codec, a.level)
    data = FILE_MAGIC + bytes([CODEC_IDS[codec]]) + blob
    return data, {"codec": codec, "model_bytes": len(data), "payload_bytes": len(payload), "storage": a.storage,
                  "codec_sizes": sizes, "encode_seconds": time.perf_counter() - t0}


def encode_model(state: Mapping[str, Tensor], model: ModelConfig, quant: QuantConfig, artifact: ArtifactConfig,
                 hessians: Mapping[str, Tensor] | None = None, code_bytes: int = 0,
                 log: Callable[[str], None] | None = None,
                 tokenizer: dict | None = None) -> tuple[bytes, dict, dict[str, Tensor]]:
    """→ (file bytes, info, the dequantized state the file decodes to). `tokenizer`: recorded in the file."""
    tensors, qmeta = quantize_model_state(state, quant, model.num_layers, hessians, log)
    info: dict = {}
    sizer = lambda ts: len(encode_tensors(ts, qmeta, model, artifact, tokenizer)[0]) + code_bytes
    tensors, report = prune_to_fit(tensors, qmeta, quant, sizer, artifact.max_bytes, log)
    if report is not None:
        info["selective_prune"] = report
    blob, enc = encode_tensors(tensors, qmeta, model, artifact, tokenizer)
    info.update(enc)
    if any(i.get("lqer") for i in qmeta.values()):
        # a per-group file has a codec per group: the factors' cost alone is estimated with the block's own codec
        codec = enc["codec"] if enc["codec"] != "pergroup" else artifact.codec if artifact.codec != "auto" else "brotli"
        info["lqer"] = lqer_cost(tensors, qmeta, artifact, codec)
        (log or (lambda m: None))(f"lqer: factors of {', '.join(info['lqer']['tensors'])} cost "
                                  f"{info['lqer']['payload_bytes']:,} payload bytes, "
                                  f"{info['lqer']['compressed_bytes']:,} compressed alone ({codec})")
    return blob, info, dequantize_state_dict(tensors, qmeta)


def lqer_cost(tensors: Mapping[str, Tensor], qmeta: Mapping[str, dict], a: ArtifactConfig, codec: str) -> dict:
    """Bytes of the LQER factor arrays alone: in the payload (data + array entries) and compressed with the file's
    codec (at artifact.level when that codec was asked for by name)."""
    names = sorted(n for n, i in qmeta.items() if i.get("lqer"))
    arrays = {n + x: tensors[n + x] for n in names for x in SUFFIXES}
    storage = a.storage
    empty = pack({}, {}, storage)
    payload = pack(arrays, {}, storage, factor_bits(qmeta))
    level = a.level if a.codec == codec else None
    return {"tensors": names, "payload_bytes": len(payload) - len(empty),
            "compressed_bytes": len(compress(payload, codec, level)) - len(compress(empty, codec, level))}


def export_model(module: nn.Module, model: ModelConfig, quant: QuantConfig, artifact: ArtifactConfig, path: Path,
                 hessians: Mapping[str, Tensor] | None = None, code_bytes: int = 0,
                 log: Callable[[str], None] | None = None, tokenizer: dict | None = None) -> tuple[dict, dict[str, Tensor]]:
    blob, info, deq = encode_model(module.state_dict(), model, quant, artifact, hessians, code_bytes, log, tokenizer)
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
    info = {**info, "tokenizer": meta.get("tokenizer")}  # None in files from before the record existed
    try:
        state = dequantize_state_dict(arrays, qmeta)
    except (KeyError, ValueError, TypeError) as e:
        raise PgolfError(f"{path}: inconsistent artifact tensors ({e})") from None
    return mcfg, state, info


def load_model(path: Path, device: torch.device | str = "cpu") -> tuple[nn.Module, dict]:
    mcfg, state, info = load_artifact(path)
    model = GPT(mcfg)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise PgolfError(f"{path}: tensors do not match the model config ({str(e).splitlines()[0]})") from None
    return model.to(device), info


__all__ = ["encode_file", "encode_model", "encode_tensors", "export_model", "load_artifact", "load_model"]
