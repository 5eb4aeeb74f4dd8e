"""Per-seed scores of one side of a comparison: pgolf runs, pgolf export folders, public records folders.

Accepted paths:
- a pgolf run directory (summary.json + config.json; the seed is config.json's train.seed) — one whose
  summary.json says `status: failed` is refused in one line naming that file (pgolf.train.status);
- a records folder — pgolf's own export or a public record of openai/parameter-golf — or its submission.json;
- a folder of logs only (train_seed*.log …), or one log file, read by `pgolf.lab.record_logs`.

submission.json has no fixed schema upstream. A survey of every submission.json on the mirror's main, leaderboard
branches and PR heads (1,786 distinct files) found the per-seed scores in these shapes, all read here:
`seed_results` {seed: {val_bpb, val_loss, …}} (most records, pgolf's export), `seeds` {seed: {…}} (#1514),
`seed_results`/`seeds`/`per_seed`/`results`/`runs` as a list of {seed, val_bpb} rows, {seed: number} maps
(`val_bpb_seeds`, `val_bpb_per_seed`, `per_seed_val_bpb`, `seed_results`), number lists parallel to a `seeds`
list (`val_bpb_seeds`, `seed_bpbs`, `seed_scores`, `seed_results`), flat `val_bpb_seed1337` keys, `seed_42: {…}`
keys, and one-seed files (`seed` + `val_bpb`). Numbers may be JSON strings. Within a per-seed row the score is the
first of `val_bpb`, `final_val_bpb`, `final_bpb`, `bpb`; its loss (nats per token) the first of `val_loss`,
`val_loss_nats`, `final_val_loss`. Disclosure blocks (`seed_results_pre_fix`, `…_retracted`, `compliance_rerun`,
`seed_results_all_runs_disclosure`) are not the submission's scores and are not read.
A per-seed val_loss missing from submission.json is taken from that seed's log when the log's final val_bpb is the
same (to 5e-6). When submission.json has no per-seed score (the March records), the folder's logs give one per log, and without
logs its headline `val_bpb` is one value (labelled so). A file that
cannot be read, or a folder with neither, is one line naming the file.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from pgolf.errors import PgolfError
from pgolf.lab.record_logs import is_log_name, parse_log
from pgolf.train.status import require_finished

BPB_KEYS = ("val_bpb", "final_val_bpb", "final_bpb", "bpb")
LOSS_KEYS = ("val_loss", "val_loss_nats", "final_val_loss")
ROW_CONTAINERS = ("seed_results", "seeds", "per_seed", "per_seed_results", "results", "runs")
NUMBER_CONTAINERS = ("val_bpb_seeds", "val_bpb_per_seed", "per_seed_val_bpb", "seed_bpbs", "seed_scores",
                     "seed_results", "seeds")


@dataclass(frozen=True)
class SeedScore:
    seed: str
    val_bpb: float
    val_loss: float | None
    source: str  # the file the figure was read from


def _num(v) -> float | None:
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v.strip())
        except ValueError:
            return None
    return None


def _first(row: dict, keys: tuple[str, ...]) -> float | None:
    for k in keys:
        if k in row and (x := _num(row[k])) is not None:
            return x
    return None


def _seed_label(key) -> str:
    m = re.fullmatch(r"(?:seed[_-]?)?(\d+)", str(key).strip())
    return m.group(1) if m else str(key)


def _rows(d: dict, src: str) -> list[SeedScore]:
    """Per-seed scores in one of the shapes of the module docstring; [] when the file has none."""
    seeds = d.get("seeds") if isinstance(d.get("seeds"), list) else None
    for key in ROW_CONTAINERS:
        c = d.get(key)
        if isinstance(c, dict) and c and all(isinstance(v, dict) for v in c.values()):
            out = [SeedScore(_seed_label(k), b, _first(v, LOSS_KEYS), src)
                   for k, v in c.items() if (b := _first(v, BPB_KEYS)) is not None]
            if out:
                return out
        if isinstance(c, list) and c and all(isinstance(v, dict) for v in c):
            out = [SeedScore(_seed_label(v.get("seed", i)), b, _first(v, LOSS_KEYS), src)
                   for i, v in enumerate(c) if (b := _first(v, BPB_KEYS)) is not None]
            if out:
                return out
    for key in NUMBER_CONTAINERS:
        c = d.get(key)
        if isinstance(c, dict) and c and all(_num(v) is not None for v in c.values()):
            return [SeedScore(_seed_label(k), _num(v), None, src) for k, v in c.items()]
        if (isinstance(c, list) and c and key != "seeds" and all(_num(v) is not None for v in c)
                and seeds is not None and len(seeds) == len(c)):
            return [SeedScore(_seed_label(s), _num(v), None, src) for s, v in zip(seeds, c)]
    flat = [(m.group(1), _num(v)) for k, v in d.items() if (m := re.fullmatch(r"val_bpb_seed_?(\d+)", k))]
    if flat and all(v is not None for _, v in flat):
        return [SeedScore(s, v, _num(d.get(f"val_loss_seed{s}")), src) for s, v in flat]
    keyed = [(m.group(1), v) for k, v in d.items() if (m := re.fullmatch(r"seed_(\d+)", k)) and isinstance(v, dict)]
    out = [SeedScore(s, b, _first(v, LOSS_KEYS), src) for s, v in keyed if (b := _first(v, BPB_KEYS)) is not None]
    if out:
        return out
    if _num(d.get("seed")) is not None and _first(d, BPB_KEYS) is not None:
        return [SeedScore(_seed_label(d["seed"]), _first(d, BPB_KEYS), _first(d, LOSS_KEYS), src)]
    return []


def _headline(d: dict, src: str) -> list[SeedScore]:
    """The submission's one headline score when nothing per seed exists (a single value, whatever it averages)."""
    bpb = _first(d, BPB_KEYS)
    if bpb is None:
        return []
    seeds = d.get("seeds") if isinstance(d.get("seeds"), list) else []
    seed = d.get("seed", seeds[0] if len(seeds) == 1 else "headline")
    return [SeedScore(_seed_label(seed), bpb, _first(d, LOSS_KEYS), f"{src} (headline val_bpb, no per-seed score)")]


def read_json(path: Path):
    try:
        return json.loads(Path(path).read_bytes())
    except OSError as e:
        raise PgolfError(f"{path}: cannot read ({e.strerror})") from None
    except ValueError as e:
        raise PgolfError(f"{path}: not valid JSON ({e})") from None


def read_submission(path: Path) -> list[SeedScore]:
    d = read_json(path)
    if not isinstance(d, dict):
        raise PgolfError(f"{path}: expected a JSON object (a submission.json), got {type(d).__name__}")
    return _rows(d, str(path))


def log_files(folder: Path) -> list[Path]:
    """The folder's training logs, subfolders included (records/…/2026-04-10_VarLenAttn/logs/train0.txt)."""
    return sorted(p for p in Path(folder).rglob("*") if p.is_file() and is_log_name(p.name))


def submission_file(folder: Path) -> Path | None:
    """submission.json, else the one submission*.json a folder has (submission_ternary.json)."""
    if (Path(folder) / "submission.json").is_file():
        return Path(folder) / "submission.json"
    found = sorted(Path(folder).glob("submission*.json"))
    return found[0] if found else None


def read_logs(folder: Path) -> list[SeedScore]:
    out = []
    for p in log_files(folder):
        f = parse_log(p.read_text(errors="replace"), str(p.relative_to(folder)))
        if f.final_bpb is not None:
            out.append(SeedScore(f.seed or p.stem, f.final_bpb, f.final_loss, str(p)))
    return out


def _losses_from_logs(rows: list[SeedScore], logs: list[SeedScore]) -> list[SeedScore]:
    """Fill a missing val_loss from the same seed's log when that log's final val_bpb is the submission's."""
    by_seed = {g.seed: g for g in logs}
    out = []
    for r in rows:
        g = by_seed.get(r.seed)
        if r.val_loss is None and g is not None and g.val_loss is not None and abs(g.val_bpb - r.val_bpb) < 5e-6:
            r = SeedScore(r.seed, r.val_bpb, g.val_loss, f"{r.source} (val_loss from {Path(g.source).name})")
        out.append(r)
    return out


def read_run(run_dir: Path) -> SeedScore:
    s, c = read_json(run_dir / "summary.json"), read_json(run_dir / "config.json")
    try:
        bpb, loss, seed = float(s["val_bpb"]), float(s["val_loss"]), c["train"]["seed"]
    except (KeyError, TypeError, ValueError):
        raise PgolfError(f"{run_dir / 'summary.json'}: not a pgolf run summary (val_bpb, val_loss) with a "
                         f"config.json holding train.seed") from None
    return SeedScore(str(seed), bpb, loss, str(run_dir))


def read_side(path: Path) -> list[SeedScore]:
    """Every seed's score under one path (module docstring); a PgolfError naming the file when there is none."""
    path = Path(path)
    if path.is_file() and is_log_name(path.name):
        f = parse_log(path.read_text(errors="replace"), path.name)
        if f.final_bpb is None:
            raise PgolfError(f"{path}: no final val_loss/val_bpb line in this log")
        return [SeedScore(f.seed or path.stem, f.final_bpb, f.final_loss, str(path))]
    if path.is_file():
        rows = read_submission(path)
        if not rows:
            raise PgolfError(f"{path}: no per-seed val_bpb in any known layout (seed_results, seeds, …)")
        return rows
    if not path.is_dir():
        raise PgolfError(f"{path}: no such file or folder")
    if (path / "summary.json").is_file():  # a pgolf run: a failed one is refused in one line (pgolf.train.status)
        require_finished(path)
    if (path / "summary.json").is_file() and (path / "config.json").is_file():
        return [read_run(path)]
    sub = submission_file(path)
    rows = read_submission(sub) if sub is not None else []
    if rows and any(r.val_loss is None for r in rows):
        rows = _losses_from_logs(rows, read_logs(path))
    if not rows:
        rows = read_logs(path)
    if not rows and sub is not None:
        rows = _headline(read_json(sub), str(sub))
    if not rows:
        what = f"{sub.name} has no val_bpb and no log" if sub is not None else "no summary.json, submission.json or log"
        raise PgolfError(f"{path}: {what} with a final val_bpb — not a pgolf run or records folder")
    return rows
