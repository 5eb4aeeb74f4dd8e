"""A submission's records folder from finished runs: what `pgolf export` writes.

The challenge takes a submission as a folder under `records/track_<track>/` of openai/parameter-golf: one runnable
`train_gpt.py`, a `README.md`, a `submission.json` (the public repo's field names: author, github_id, name, blurb,
date, track, val_bpb, val_bpb_std, seeds, seed_results, bytes_total, bytes_code, …) and the training logs. Here the
folder is built from N finished pgolf runs of one config (one per seed):

- `train_gpt.py` = `pgolf.artifact.bundle.build` of the runs' config. The runs must agree on every config key but
  `train.seed` and the machine-local keys `data.path`, `data.tokenizer`, `train.device`; the first different key is
  refused by name. The bundle carries the FIRST run's seed (the others are `train.seed=N` on its command line) and the
  local keys reset to the recipe's own values (for every registered recipe: the challenge layout
  `data/datasets/fineweb10B_sp1024`, `data/tokenizers/fineweb_1024_bpe.model`, device `auto`), so the file runs
  as is in a parameter-golf checkout.
- Bytes: what ships is what counts. Each seed's `artifact_bytes` = its `model_bytes` (checked against the artifact
  file's size) + len(the shipped train_gpt.py), against min(`artifact.max_bytes`, 16,000,000). Each run's own
  `code_bytes` must equal the bundle this checkout builds for the run's own config — a mismatch means pgolf's sources
  changed since the run, and the bundle would not be the code that trained it (a length check: equal lengths do not
  prove equal sources, so submission.json also records the runs' git sha). A run that was itself a bundle file
  (`code_bytes_method` "bundle-file") is not rebuilt; a log line says so.
- Every other figure is copied from the runs' summary.json as it is; means and the sample std are over seeds.
- Track: `10min_16mb` when every run is a record run (8 ranks, an H100 device, full val split, train and eval
  ≤ 600 s; pgolf's eval_seconds also counts the pre-quant eval and the export, so it errs long), otherwise
  `non_record_16mb`; an explicit --track is kept. Either way each non-record run gets one warning line with its reasons.
- Nothing half-written: everything is computed first, written into a temp folder beside DIR, then renamed.

Source of the format: openai/parameter-golf records/track_10min_16mb/*/submission.json (e.g. the 3-seed records of
2026-04-09 and 2026-04-29). submission.json and README.md are rendered by `pgolf.records.docs`; the config comparisons live in
`pgolf.records.compare`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import reduce
from pathlib import Path

from pgolf.artifact.bundle import build
from pgolf.config import Config, config_hash, from_dict, override, validate
from pgolf.errors import PgolfError
from pgolf.records import TRACKS
from pgolf.records.compare import cap_of, differences, recipe_config
from pgolf.records.docs import readme, submission

SEED_KEY = "train.seed"
LOCAL_KEYS = ("data.path", "data.tokenizer", "train.device")
_SUMMARY_KEYS = ("recipe", "val_bpb", "val_loss", "val_bpb_prequant", "val_loss_prequant", "model_bytes",
                 "code_bytes", "code_bytes_method", "train_seconds", "eval_seconds", "steps", "world_size", "device",
                 "eval_partial", "env", "config_hash", "artifact_path")


@dataclass(frozen=True)
class FinishedRun:
    path: Path
    cfg: Config
    summary: dict
    log: bytes  # train.log

    @property
    def seed(self) -> int:
        return self.cfg.train.seed

    @property
    def recipe(self) -> str:
        return self.summary["recipe"]


@dataclass(frozen=True)
class Meta:
    """What the runs cannot know: who submits, and how the submission is called."""

    name: str | None = None  # default: the recipe's one-line summary
    author: str = ""
    github_id: str = ""
    blurb: str | None = None  # default: recipe name + summary
    track: str | None = None  # None = decided from the runs (module docstring)


def _read_json(path: Path):
    try:
        return json.loads(path.read_bytes())
    except OSError as e:
        raise PgolfError(f"{path}: cannot read ({e.strerror})") from None
    except ValueError:
        raise PgolfError(f"{path}: corrupt JSON") from None


def load_run(run_dir: Path) -> FinishedRun:
    """A finished run directory, checked: summary.json, config.json (same hash), the artifact's size, train.log."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise PgolfError(f"{run_dir}: not a run directory")
    if not (run_dir / "summary.json").is_file():
        raise PgolfError(f"{run_dir}: no summary.json — the run did not finish")
    summary = _read_json(run_dir / "summary.json")
    missing = [k for k in _SUMMARY_KEYS if not isinstance(summary, dict) or k not in summary]
    if missing:
        raise PgolfError(f"{run_dir / 'summary.json'}: no {missing[0]!r} field (not a pgolf run summary)")
    raw = _read_json(run_dir / "config.json")
    try:
        cfg = validate(from_dict(Config, raw))
    except (PgolfError, ValueError, TypeError, AttributeError) as e:
        raise PgolfError(f"{run_dir / 'config.json'}: not a pgolf config ({e})") from None
    if config_hash(cfg) != summary["config_hash"]:
        raise PgolfError(f"{run_dir / 'config.json'}: config hash {config_hash(cfg)} but summary.json says "
                         f"{summary['config_hash']} — the two files are not from the same run")
    model = run_dir / Path(summary["artifact_path"]).name
    try:
        size = model.stat().st_size
    except OSError as e:
        raise PgolfError(f"{model}: cannot read the run's artifact ({e.strerror})") from None
    if size != summary["model_bytes"]:
        raise PgolfError(f"{model}: {size:,} bytes but summary.json counts model_bytes {summary['model_bytes']:,}")
    try:
        log = (run_dir / "train.log").read_bytes()
    except OSError as e:
        raise PgolfError(f"{run_dir / 'train.log'}: cannot read ({e.strerror})") from None
    return FinishedRun(run_dir, cfg, summary, log)


def shipped_config(runs: list[FinishedRun]) -> Config:
    """The one config the runs share, with the first run's seed and the recipe's own data paths and device."""
    first = runs[0]
    seen: dict[int, Path] = {}
    for r in runs:
        if r.seed in seen:
            raise PgolfError(f"{r.path}: train.seed {r.seed} again (also {seen[r.seed]}); one run per seed")
        seen[r.seed] = r.path
        if r.recipe != first.recipe:
            raise PgolfError(f"{r.path}: recipe {r.recipe!r} but {first.path} is {first.recipe!r}; one recipe only")
        diff = differences(first.cfg, r.cfg, skip=(SEED_KEY, *LOCAL_KEYS))
        if diff:
            key, want, got = diff[0]
            raise PgolfError(f"{r.path}: config key {key} is {got!r} but {want!r} in {first.path}; the runs of one "
                             f"submission may differ only in {SEED_KEY} (and {', '.join(LOCAL_KEYS)})")
    home = recipe_config(first.recipe) or Config()
    return validate(override(first.cfg, {k: reduce(getattr, k.split("."), home) for k in LOCAL_KEYS}))


def check_code_bytes(run: FinishedRun, shipped: Config, code: bytes, log) -> None:
    """The run's counted code_bytes = the bundle this checkout builds for the run's own config."""
    s = run.summary
    if s["code_bytes_method"] != "bundle":
        log(f"{run.path}: code_bytes {s['code_bytes']:,} were counted as {s['code_bytes_method']!r} (run from a "
            f"bundle file, overrides applied at run time): not rebuilt here")
        return
    n = len(code) if run.cfg == shipped else len(build(run.cfg, run.recipe))
    if n != s["code_bytes"]:
        raise PgolfError(f"{run.path / 'summary.json'}: code_bytes {s['code_bytes']:,} but this checkout bundles the "
                         f"run's config into {n:,} bytes — pgolf's sources changed since the run (git "
                         f"{s['env'].get('git')}); export from the checkout that trained it")


def record_issues(run: FinishedRun) -> list[str]:
    """Why a run does not qualify for the 10-minute record track (empty when it does)."""
    s, out = run.summary, []
    if s["world_size"] != 8:
        out.append(f"world_size {s['world_size']} (not 8)")
    if "H100" not in str(s["device"]):
        out.append(f"device {s['device']!r} (not H100)")
    if s["eval_partial"]:
        out.append("eval on a prefix of the val split (eval.max_tokens), not the full split")
    for key in ("train_seconds", "eval_seconds"):
        if s[key] > 600:
            out.append(f"{key} {s[key]:.1f} > 600")
    return out


def choose_track(runs: list[FinishedRun], track: str | None, log) -> str:
    if track is not None and track not in TRACKS:
        raise PgolfError(f"--track {track}: expected one of {', '.join(TRACKS)}")
    issues = {r.path: record_issues(r) for r in runs}
    chosen = track or ("non_record_16mb" if any(issues.values()) else "10min_16mb")
    for path, why in issues.items():
        if why:
            log(f"warning: {path}: not a record run ({'; '.join(why)}) — track {chosen}"
                + (" as given by --track" if track else ""))
    return chosen


def write_folder(out: Path, files: dict[str, bytes], force: bool) -> None:
    """All of `files` into DIR, or nothing: a temp folder beside DIR, renamed into place (replacing DIR if force)."""
    out = Path(out)
    if out.exists() and not (force and out.is_dir()):
        raise PgolfError(f"{out}: already exists" + ("; pass --force to replace it" if out.is_dir() else ""))
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    old = tmp.with_name(tmp.name + ".old")
    try:
        os.chmod(tmp, 0o755)
        for name, blob in files.items():
            (tmp / name).write_bytes(blob)
        if out.exists():
            out.rename(old)
            try:
                tmp.rename(out)
            except OSError:
                old.rename(out)
                raise
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, OSError):
            raise PgolfError(f"{out}: cannot write the records folder ({e.strerror or e})") from None
        raise


def export(run_dirs, out: Path, meta: Meta | None = None, force: bool = False, log=print,
           date: str | None = None) -> dict:
    """Check the runs, build train_gpt.py, README.md and submission.json, write the folder; return submission.json."""
    out, meta = Path(out), meta or Meta()
    if not run_dirs:
        raise PgolfError("export: give at least one RUN_DIR")
    if out.exists() and not force:
        raise PgolfError(f"{out}: already exists; pass --force to replace it")
    runs = [load_run(Path(d)) for d in run_dirs]
    for r in runs:
        a, b = out.resolve(), r.path.resolve()
        if a == b or a in b.parents or b in a.parents:
            raise PgolfError(f"{out}: overlaps the run directory {r.path}; write the records folder elsewhere")
    shipped = shipped_config(runs)
    reset = [(k, a, b) for k, a, b in differences(runs[0].cfg, shipped) if k in LOCAL_KEYS]
    if reset:
        log("export: train_gpt.py carries the recipe's " + ", ".join(f"{k}={b} (run: {a})" for k, a, b in reset)
            + "; its bytes are the code bytes counted")
    code = build(shipped, runs[0].recipe)
    for r in runs:
        check_code_bytes(r, shipped, code, log)
    cap = cap_of(shipped)
    for r in runs:
        total = r.summary["model_bytes"] + len(code)
        if total > cap:
            raise PgolfError(f"{r.path}: model {r.summary['model_bytes']:,} + train_gpt.py {len(code):,} = "
                             f"{total:,} bytes, over the {cap:,}-byte cap")
    track = choose_track(runs, meta.track, log)
    if not (meta.author and meta.github_id):
        log("export: author/github_id empty in submission.json (pass --author and --github-id)")
    date = date or datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    sub = submission(runs, shipped, code, meta, track, date)
    files = {"train_gpt.py": code, "submission.json": (json.dumps(sub, indent=2) + "\n").encode(),
             "README.md": readme(sub, runs, shipped).encode()}
    files.update({f"train_seed{r.seed}.log": r.log for r in runs})
    write_folder(out, files, force)
    return sub
