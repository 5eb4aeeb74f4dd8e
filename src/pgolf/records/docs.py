"""The two documents of a records folder (pgolf.records.folder): submission.json and README.md.

submission.json follows the public repo's field names (records/track_10min_16mb/*/submission.json): every per-seed
figure is the run's summary.json value as it is; val_bpb, val_loss and the pre-quant figures are means over seeds,
val_bpb_std the sample std (≥ 2 seeds); the bytes are those of the shipped train_gpt.py plus each run's model.
README.md: results per seed, how to reproduce, byte accounting, the config's difference from its recipe, and the
recipe's lineage with its sources and authors (the credits). Every README figure is the submission.json value printed
with `repr` (no rounding: the two agree digit for digit).
"""

from __future__ import annotations

import statistics

from pgolf.config import Config, config_hash
from pgolf.recipes import REGISTRY
from pgolf.records.compare import cap_of, differences, recipe_config


def _lineage(recipe: str) -> list:
    """The registered recipe a run names and its parents, child first (empty when unregistered)."""
    out, name = [], recipe.split("+")[0]
    while name in REGISTRY and len(out) < 50:
        out.append(REGISTRY[name])
        name = REGISTRY[name].parent
    return out


def _unique(values) -> str | None:
    """The runs' distinct values joined by "; " (one value when they agree); None when no run recorded one."""
    return "; ".join(dict.fromkeys(str(v) for v in values if v is not None)) or None


def hardware(s: dict) -> str:
    gpu = s["env"].get("gpu")
    return f"{s['world_size']}x{gpu}" if gpu else f"{s['world_size']}xCPU ({s['env'].get('platform', '?')})"


def submission(runs: list, shipped: Config, code: bytes, meta, track: str, date: str) -> dict:
    """submission.json: the runs' figures as they are, the shipped file's bytes, means and sample std over seeds."""
    recipe = runs[0].recipe
    entry = REGISTRY.get(recipe.split("+")[0])
    summary = entry.summary if entry is not None else f"pgolf recipe {recipe}"
    source = f"; recipe after {entry.source}" if entry is not None and entry.source else ""
    n = len(runs)
    results = {str(r.seed): {
        "val_bpb": r.summary["val_bpb"], "val_loss": r.summary["val_loss"],
        "artifact_bytes": r.summary["model_bytes"] + len(code), "model_bytes": r.summary["model_bytes"],
        "code_bytes": len(code), "train_time_s": r.summary["train_seconds"],
        "eval_time_s": r.summary["eval_seconds"], "steps": r.summary["steps"],
        "config_hash": r.summary["config_hash"]} for r in runs}
    bpb = [r.summary["val_bpb"] for r in runs]
    out = {"author": meta.author, "github_id": meta.github_id, "name": meta.name or summary,
           "blurb": meta.blurb or f"pgolf recipe {recipe}, {n} seed{'s' * (n != 1)}: {summary}{source}.",
           "date": date, "track": track, "val_bpb": statistics.fmean(bpb)}
    if n >= 2:
        out["val_bpb_std"] = statistics.stdev(bpb)
    out.update({
        "val_loss": statistics.fmean(r.summary["val_loss"] for r in runs),
        "pre_quant_val_bpb": statistics.fmean(r.summary["val_bpb_prequant"] for r in runs),
        "pre_quant_val_loss": statistics.fmean(r.summary["val_loss_prequant"] for r in runs),
        "seeds": [r.seed for r in runs], "seed_results": results,
        "bytes_total": max(v["artifact_bytes"] for v in results.values()), "bytes_code": len(code),
        "bytes_cap": cap_of(shipped),
        "hardware": _unique(hardware(r.summary) for r in runs),
        "pytorch_version": _unique(r.summary["env"].get("torch") for r in runs),
        "pgolf_version": _unique(r.summary["env"].get("pgolf") for r in runs),
        "pgolf_git": _unique(r.summary["env"].get("git") for r in runs),
        "config_hash": config_hash(shipped), "recipe": recipe,
    })
    return out


def _results(sub: dict) -> list[str]:
    rows = ["| seed | val_bpb | val_loss | steps | train s | eval s | model bytes | code bytes | total bytes |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for seed, r in sub["seed_results"].items():
        rows.append(f"| {seed} | {r['val_bpb']!r} | {r['val_loss']!r} | {r['steps']} | {r['train_time_s']!r} | "
                    f"{r['eval_time_s']!r} | {r['model_bytes']:,} | {r['code_bytes']:,} | {r['artifact_bytes']:,} |")
    n = len(sub["seeds"])
    spread = f" ± {sub['val_bpb_std']!r} (sample std)" if "val_bpb_std" in sub else ""
    rows += ["", f"**val_bpb {sub['val_bpb']!r}{spread}**, mean over {n} seed{'s' * (n != 1)}; "
                 f"val_loss {sub['val_loss']!r}; before quantization val_bpb {sub['pre_quant_val_bpb']!r}."]
    return rows


def _reproduce(sub: dict, shipped: Config) -> list[str]:
    cmds = [f"torchrun --standalone --nproc_per_node=8 train_gpt.py train.seed={s}" for s in sub["seeds"]]
    return ["```bash", *cmds, "```", "",
            f"`train_gpt.py` is the pgolf bundle of this config (recipe `{sub['recipe']}`, config "
            f"`{sub['config_hash']}`, pgolf {sub['pgolf_version']}, git {sub['pgolf_git']}): pgolf's training "
            f"modules, minified and LZMA-compressed, with the config frozen in. Its default seed is "
            f"{shipped.train.seed}. It reads the shards from `{shipped.data.path}` and the tokenizer "
            f"`{shipped.data.tokenizer}` (the challenge layout); `--data DIR --tokenizer FILE` point it elsewhere, "
            f"`--dry-run` prints the resolved config, and any `key=value` overrides a config key. Each run writes "
            f"`summary.json` with the figures above."]


def _bytes(sub: dict) -> list[str]:
    rows = ["| seed | model | + code (train_gpt.py) | = total | cap | margin |", "|---:|---:|---:|---:|---:|---:|"]
    for seed, r in sub["seed_results"].items():
        rows.append(f"| {seed} | {r['model_bytes']:,} | {r['code_bytes']:,} | {r['artifact_bytes']:,} | "
                    f"{sub['bytes_cap']:,} | {sub['bytes_cap'] - r['artifact_bytes']:,} |")
    return rows + ["", f"Code is the shipped `train_gpt.py` itself ({sub['bytes_code']:,} bytes); the model is the "
                       f"compressed artifact the script writes. Caps are decimal bytes."]


def _config_diff(sub: dict, shipped: Config) -> list[str]:
    base = recipe_config(sub["recipe"])
    if base is None:
        return [f"Recipe `{sub['recipe']}` is not registered in this pgolf: no diff to show."]
    diff = differences(base, shipped, skip=("train.seed",))
    if not diff:
        return [f"The config is recipe `{sub['recipe']}` exactly (but for `train.seed`)."]
    return ["| key | recipe | this submission |", "|---|---|---|",
            *(f"| `{k}` | `{a!r}` | `{b!r}` |" for k, a, b in diff)]


def _credits(recipe: str) -> list[str]:
    chain = _lineage(recipe)
    if not chain:
        return [f"Recipe `{recipe}` is not registered in this pgolf."]
    lines = []
    for i, r in enumerate(chain):
        who = f" — {r.author}" if r.author else ""
        src = f" ({r.source})" if r.source else ""
        lines.append(f"- {'parent ' * (i > 0)}`{r.name}`: {r.summary}{src}{who}")
    return lines + ["", "Built with pgolf; every technique module credits its source PR or paper in its docstring."]


def readme(sub: dict, runs: list, shipped: Config) -> str:
    head = [f"# {sub['name']}", "", sub["blurb"], "",
            f"Track `{sub['track']}` · {sub['hardware']} · PyTorch {sub['pytorch_version']} · {sub['date']}"
            + (f" · {sub['author']}" if sub["author"] else "")
            + (f" (@{sub['github_id']})" if sub["github_id"] else "")]
    logs = ", ".join(f"`train_seed{r.seed}.log`" for r in runs)
    parts = [head,
             ["## Results", "", *_results(sub), "", f"Logs: {logs}."],
             ["## Reproduce", "", *_reproduce(sub, shipped)],
             ["## Bytes", "", *_bytes(sub)],
             [f"## Config vs recipe `{sub['recipe']}`", "", *_config_diff(sub, shipped)],
             ["## Credits", "", *_credits(sub["recipe"])]]
    return "\n\n".join("\n".join(p) for p in parts) + "\n"
