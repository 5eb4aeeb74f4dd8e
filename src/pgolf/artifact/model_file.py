"""Model ⇄ artifact file: quantize by policy, pack, compress; and the exact inverse back to a GPT.

The file stores the model config and the per-tensor quantization metadata next to the arrays, so `pgolf eval`
rebuilds the model from the artifact alone.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

import pgolf
from pgolf.artifact.pack import encode_file, read_file, write_atomic
from pgolf.config import Config, ModelConfig, from_dict, to_dict
from pgolf.errors import PgolfError
from pgolf.quant.policy import dequantize_state_dict, quantize_state_dict


def encode_model(state: dict[str, Tensor], cfg: Config) -> tuple[bytes, dict, dict[str, Tensor]]:
    """→ (file bytes, info, the dequantized state the file decodes to)."""
    tensors, qmeta = quantize_state_dict(state, cfg.quant)
    meta = {"pgolf": pgolf.__version__, "model": to_dict(cfg.model), "tensors": qmeta}
    blob, codec = encode_file(tensors, meta, cfg.artifact.codec, None if cfg.artifact.codec == "auto" else cfg.artifact.level)
    return blob, {"codec": codec, "model_bytes": len(blob)}, dequantize_state_dict(tensors, qmeta)


def export_model(model: nn.Module, cfg: Config, path: Path) -> tuple[dict, dict[str, Tensor]]:
    blob, info, deq = encode_model(model.state_dict(), cfg)
    write_atomic(Path(path), blob)
    return info, deq


def load_artifact(path: Path) -> tuple[ModelConfig, dict[str, Tensor], dict]:
    """→ (model config, dequantized state dict, info with codec/file_bytes/decompress_seconds)."""
    arrays, meta, info = read_file(Path(path))
    try:
        mcfg = from_dict(ModelConfig, meta["model"], prefix="model")
        qmeta = meta["tensors"]
    except (KeyError, TypeError):
        raise PgolfError(f"{path}: artifact metadata lacks the model config or tensor table") from None
    try:
        state = dequantize_state_dict(arrays, qmeta)
    except (KeyError, ValueError) as e:
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
