"""Byte accounting: artifact = code bytes + compressed model bytes, against the DECIMAL cap (16,000,000; the repo FAQ).

`code_bytes` is the size of the bundled single-file train_gpt.py (pgolf.artifact.bundle) of the run's config — what
the submission ships. `package_code_bytes` (every source file of the package, unminified) is only the labelled upper
bound `pgolf size` reports for an artifact with no run config beside it.

`breakdown` splits a model file into groups — embeddings, attention, MLP, control tensors, other, scales, lqer,
metadata — and for each reports the values it holds, its bytes in the payload as stored (before the codec) and its
bytes when its arrays alone are stored and compressed with the file's own storage and codec (compressed sizes do not
add up exactly; the file's real size is reported beside their sum). The LQER factors of corrected matrices
(pgolf.quant.lqer: NAME.lqer_a / .lqer_a_scale / .lqer_b / .lqer_b_scale) are their own group "lqer", so what the
correction costs is visible on its own rather than spread over the matrices' groups. Likewise the AWQ-protected
columns (pgolf.quant.awq: NAME.awq_q / .awq_scale) are the group "awq".
"""

from __future__ import annotations

from pathlib import Path

import pgolf
from pgolf.artifact.codecs import compress
from pgolf.artifact.pack import pack
from pgolf.artifact.read import read_artifact
from pgolf.errors import PgolfError
from pgolf.quant.awq import SUFFIXES as AWQ_SUFFIXES
from pgolf.quant.awq import awq_bits
from pgolf.quant.lqer import SUFFIXES as LQER_SUFFIXES
from pgolf.quant.lqer import factor_bits

CODE_BYTES_METHOD = "package-sources"
GROUPS = ("embeddings", "attention", "mlp", "control", "other", "scales", "lqer", "awq", "metadata")
_CONTROL = ("attn_scale", "mlp_scale", "resid_mix", "q_gain", "skip_weight", "smear", "bigram.scale", "backout",
            "vr_lambda", "ve_layer_scales", "ve_shared.scale", "lambda", "gate")
_EMBED = ("tok_emb", "lm_head", "bigram", "ve_shared", "embed")


def package_code_bytes() -> int:
    root = Path(pgolf.__file__).parent
    return sum(len(p.read_text(encoding="utf-8").encode("utf-8")) for p in sorted(root.rglob("*.py")))


def check_budget(model_bytes: int, code_bytes: int, max_bytes: int, what: str = "artifact") -> int:
    total = model_bytes + code_bytes
    if total > max_bytes:
        raise PgolfError(
            f"{what}: {total:,} bytes (model {model_bytes:,} + code {code_bytes:,}) is over the cap of {max_bytes:,}"
        )
    return total


def group_of(array: str, tensors: dict) -> str:
    """Group of a stored array name (quantized tensors' `.scale` arrays are 'scales')."""
    if any(array.endswith(x) for x in LQER_SUFFIXES):
        return "lqer"
    if any(array.endswith(x) for x in AWQ_SUFFIXES):
        return "awq"
    if array.endswith(".scale") and tensors.get(array[: -len(".scale")], {}).get("kind") == "int":
        return "scales"
    base = array
    if any(p in base for p in _CONTROL) and (tensors.get(base, {}).get("kind") != "int"):
        return "control"
    if any(p in base for p in _EMBED):
        return "embeddings"
    if ".attn." in base:
        return "attention"
    if ".mlp." in base:
        return "mlp"
    return "other"


def breakdown(path: Path) -> dict:
    """Per-group sizes of a model file (see module docstring) plus totals."""
    arrays, meta, info = read_artifact(Path(path))
    tensors = meta.get("tensors", {})
    storage = meta.get("storage", "int8")
    bits = {**{n: i["bits"] for n, i in tensors.items() if isinstance(i, dict) and i.get("kind") == "int"},
            **factor_bits(tensors), **awq_bits(tensors)}
    groups: dict[str, dict] = {g: {"arrays": 0, "values": 0, "stored_bytes": 0, "compressed_bytes": 0} for g in GROUPS}
    members: dict[str, dict] = {g: {} for g in GROUPS}
    for name, t in arrays.items():
        g = group_of(name, tensors)
        members[g][name] = t
        groups[g]["arrays"] += 1
        groups[g]["values"] += t.numel()
    # a per-group file (pgolf.artifact.pergroup) has one codec per group: the breakdown then estimates with brotli
    codec = "brotli" if info["codec"] == "pergroup" else info["codec"]
    empty = len(compress(pack({}, {}, storage), codec))
    for g in GROUPS[:-1]:
        if members[g]:
            payload = pack(members[g], {}, storage, {k: v for k, v in bits.items() if k in members[g]})
            groups[g]["stored_bytes"] = len(payload) - len(pack({}, {}, storage))
            groups[g]["compressed_bytes"] = len(compress(payload, codec)) - empty
    meta_payload = pack({}, meta, storage)
    groups["metadata"].update(stored_bytes=len(meta_payload), compressed_bytes=len(compress(meta_payload, codec)))
    return {"path": str(path), "model_bytes": info["file_bytes"], "codec": info["codec"], "storage": storage,
            "decompress_seconds": info["decompress_seconds"], "groups": groups,
            "sum_of_groups_compressed": sum(g["compressed_bytes"] for g in groups.values())}
