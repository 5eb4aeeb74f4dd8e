"""Every GPU check the open issues ask for, as one plan: prepare here, run on the lent device, get one table back.

A session with a device has little device time (15 minutes in all at present) and 10 minutes per command, and
../shared and the mirror do not travel. So:

1. here (no GPU needed): copy the proxy shards, the tokenizer and the public scripts (#198, #1473, #1855, the
   baseline) into .devdata/ (git-ignored, ~48 MiB, within the 64 MiB a device call may carry); it prints the call:
       python benchmarks/gpu_session.py prepare [--shared ../shared] [--mirror /work/.mirror/openai+parameter-golf/repo]
2. on the device, ONE call for issue 15's speed table (≤ 9 minutes by design, each part capped by its limit):
       PYTHONPATH=src python benchmarks/gpu_session.py run --only session   # carry [".devdata"], timeout_s 570
   budget: env 20 s | varlen_check 60 s | train_step (#1473) 230 s | train_step_1855 230 s (its --budget 190 s
   skips the looping-off state if looping-on, measured first, took too long) = 540 s; a part over its limit is killed (rc 124) and
   its partial output still lands in the table. Other groups, one call each (each fits in 10 minutes):
       python benchmarks/gpu_session.py run --only env,gpu_tests,eval_pr198
       python benchmarks/gpu_session.py run --only baseline_vs_public
       python benchmarks/gpu_session.py run --only pr1473_smoke
   Before a device is at hand, the same plan end to end on CPU at tiny shapes (tests run it):
       python benchmarks/gpu_session.py run --smoke [--only ...] [--data DIR] [--mirror DIR]
   Each check's stdout/stderr and a results.json land in $OUT (or runs/gpu_session); the table printed at the end
   has one row per check: return code, wall seconds, and the lines that carry its figures.

Checks (issue → what it measures):
  env                 device name, torch/CUDA versions, whether FA3 (`flash_attn_interface`) imports
  varlen_check        #17: pgolf's varlen attention, FA3 flash_attn_varlen_func vs the exact masked SDPA path:
                      max|Δlogit| of the pr1855 model on 4 × 2048 tokens (benchmarks/varlen_check.py)
  gpu_tests           `pytest -m gpu` (CUDA paths: loaders, compiled scoring, compiled TTT, GPTQ on CUDA)
  eval_pr198          #7: sliding eval T 2048 / stride 64 of a #198-shaped model over the 4 M proxy val tokens,
                      pgolf vs #198's own `eval_val_sliding` on the same weights
  baseline_vs_public  #2: `baseline` vs the public train_gpt.py, 1 GPU, 120 s each, same data: ms/step, val_bpb
  pr1473_smoke        #4/#5/#6: the pr1473 recipe at full size for 90 s on 1 GPU — compile, FA3|SDPA line, EMA,
                      late QAT, self-generated GPTQ calibration, ±1 pruning, lzma, sliding eval; ms/step and bytes
  train_step          #15: one training step of the pr1473 recipe vs #1473's own model and optimizers on the proxy
                      shards, same tokens/step and attention kernel: ms/step, MFU, peak memory, one table
                      (benchmarks/train_step.py)
  train_step_1855     #15: the same for the pr1855 recipe vs #1855's own script (its GPT, Optimizers, fused Triton
                      MLP and CE), FA3 varlen on both, looping on and off (benchmarks/train_step_1855.py)
With --smoke every check that has a CPU form runs it (env, varlen_check, train_step, train_step_1855: tiny shapes, a
few steps; Triton and FA3 stood in for as in benchmarks/parity_frontier.py).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records_mirror import show_to  # noqa: E402  (benchmarks/ is not a package)

DEV = Path(".devdata")
PR1473 = ("refs/pull/1473/head:records/track_10min_16mb/2026-04-08_11L_FullGPTQ_XSA11_BigramHash3072/train_gpt.py")
PR198 = ("refs/pull/198/head:records/track_10min_16mb/2026-03-20_11L_Int6_MLP3x_WD04_SmearBigram2k_1.1318/"
         "train_gpt.py")
PR1855 = ("main:records/track_10min_16mb/2026-04-27_SP8192_LQER_SparseGate_BOSSmearFix_9HpStack_1.0611/train_gpt.py")
SESSION = ("env", "varlen_check", "train_step", "train_step_1855")  # issue 15's one ≤ 9-minute device call
RUN_CALL = ('run(command="PYTHONPATH=src python benchmarks/gpu_session.py run --only session", carry=[".devdata"], '
            'timeout_s=570)')
FIGURE_WORDS = ("val_bpb", "ms/step", "ms_per_step", "bytes", "passed", "failed", "skipped", "error", "tokens/s", "max|Δ", "device",
                "FA3", "| ")


def prepare(shared: Path, mirror: Path | None) -> None:
    src = shared / "data" / "gutenberg_sp1024"
    if not any(src.glob("fineweb_val_*.bin")) or not (shared / "tokenizers" / "fineweb_1024_bpe.model").is_file():
        raise SystemExit(f"--shared {shared}: expected data/gutenberg_sp1024/fineweb_*.bin and "
                         "tokenizers/fineweb_1024_bpe.model")
    data = DEV / "gutenberg_sp1024"
    data.mkdir(parents=True, exist_ok=True)
    for f in sorted(src.glob("fineweb_*.bin")):
        shutil.copy2(f, data / f.name)
    shutil.copy2(shared / "tokenizers" / "fineweb_1024_bpe.model", DEV / "fineweb_1024_bpe.model")
    if mirror is not None:
        for ref, name in (("HEAD:train_gpt.py", "public_train_gpt.py"), (PR198, "pr198_train_gpt.py"),
                          (PR1473, "pr1473_train_gpt.py"), (PR1855, "pr1855_train_gpt.py")):
            show_to(mirror, ref, DEV / name)
    size = sum(f.stat().st_size for f in DEV.rglob("*") if f.is_file())
    if size > 64 * 2**20:
        raise SystemExit(f"{DEV}/ holds {size / 2**20:.1f} MiB, over the 64 MiB a device call carries")
    print(f"prepared {DEV}/ ({size / 2**20:.1f} MiB): carry it with the device call:\n    {RUN_CALL}")


def checks(py: str, out: Path, smoke: bool = False, data: Path | None = None,
           script: Path | None = None, script_1855: Path | None = None) -> dict[str, tuple[list[str], int]]:
    data, tok = str(data or DEV / "gutenberg_sp1024"), str(DEV / "fineweb_1024_bpe.model")
    step = [py, "benchmarks/train_step.py", "--data", data, "--script", str(script or DEV / "pr1473_train_gpt.py"),
            "--json", str(out / "train_step.json")]
    step_1855 = [py, "benchmarks/train_step_1855.py", "--data", data, "--script",
                 str(script_1855 or DEV / "pr1855_train_gpt.py"), "--json", str(out / "train_step_1855.json")]
    varlen = [py, "benchmarks/varlen_check.py", "--data", data]
    env_probe = ("import torch, importlib.util as u; print('device', torch.cuda.get_device_name(0) if "
                 "torch.cuda.is_available() else 'none', '| torch', torch.__version__, '| cuda', torch.version.cuda,"
                 " '| FA3', u.find_spec('flash_attn_interface') is not None)")
    if smoke:
        return {"env": ([py, "-c", env_probe], 60), "varlen_check": (varlen + ["--smoke"], 120),
                "train_step": (step + ["--smoke"], 300), "train_step_1855": (step_1855 + ["--smoke"], 300)}
    return {
        "env": ([py, "-c", env_probe], 20),
        "varlen_check": (varlen, 60),
        "train_step": (step + ["--blocks", "3", "--steps", "4"], 230),
        "train_step_1855": (step_1855 + ["--budget", "190"], 230),
        "gpu_tests": ([py, "-m", "pytest", "-m", "gpu", "-p", "no:cacheprovider"], 300),
        "eval_pr198": ([py, "benchmarks/eval_speed.py", "pr198", "--pr198-script", str(DEV / "pr198_train_gpt.py"),
                        "--data", data, "--tokenizer", tok], 420),
        "baseline_vs_public": ([py, "benchmarks/baseline_vs_public.py", "--public-script",
                                str(DEV / "public_train_gpt.py"), "--data", data, "--tokenizer", tok,
                                "--seconds", "120"], 560),
        "pr1473_smoke": ([py, "-m", "pgolf", "train", "--recipe", "pr1473", "--data", data, "--tokenizer", tok,
                          "--out", "runs/gpu_session/pr1473", "train.max_wallclock_seconds=90", "train.val_every=0",
                          "train.log_every=20"], 540),
    }


def run(only: list[str], out: Path, smoke: bool = False, data: Path | None = None, mirror: Path | None = None) -> int:
    out.mkdir(parents=True, exist_ok=True)
    script = script_1855 = None
    if smoke:  # the public scripts from the mirror into the output folder (never into the repository)
        if mirror is None or not mirror.exists():
            raise SystemExit(f"--smoke needs #1473's and #1855's scripts: --mirror {mirror} does not exist")
        script, script_1855 = out / "pr1473_train_gpt.py", out / "pr1855_train_gpt.py"
        for ref, dst in ((PR1473, script), (PR1855, script_1855)):
            show_to(mirror, ref, dst)
    plan = checks(sys.executable, out, smoke, data, script, script_1855)
    only = [c for n in only for c in (SESSION if n == "session" else (n,))]
    unknown = [n for n in only if n not in plan]
    if unknown:
        raise SystemExit(f"--only: unknown check(s) {', '.join(unknown)}; known: {', '.join(plan)}, session")
    results = []
    for name in only or list(plan):
        cmd, limit = plan[name]
        t0 = time.perf_counter()
        try:
            p = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
            rc, text = p.returncode, p.stdout + p.stderr
        except subprocess.TimeoutExpired as e:
            rc = 124
            text = (e.stdout or b"").decode(errors="replace") + (e.stderr or b"").decode(errors="replace")
        wall = time.perf_counter() - t0
        (out / f"{name}.log").write_text(text)
        figures = [ln.strip() for ln in text.splitlines() if any(w in ln for w in FIGURE_WORDS)][-12:]
        results.append({"check": name, "rc": rc, "wall_s": round(wall, 1), "figures": figures})
        print(f"# {name}: rc {rc}, {wall:.0f} s", file=sys.stderr, flush=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    print("| check | rc | wall s | figures |\n|---|---|---|---|")
    for r in results:
        print(f"| {r['check']} | {r['rc']} | {r['wall_s']} | {' / '.join(r['figures'][-4:]) or '—'} |")
    return max((r["rc"] for r in results), default=0)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--shared", type=Path, default=Path("../shared"))
    p.add_argument("--mirror", type=Path, default=Path("/work/.mirror/openai+parameter-golf/repo"))
    r = sub.add_parser("run")
    r.add_argument("--only", default="", help="comma-separated checks, or `session` (= " + ",".join(SESSION)
                   + "); default: all, which needs > 10 minutes")
    r.add_argument("--out", type=Path, default=Path(os.environ.get("OUT") or "runs/gpu_session"))
    r.add_argument("--smoke", action="store_true", help="the checks' CPU forms at tiny shapes (no GPU needed)")
    r.add_argument("--data", type=Path, help="proxy shards (default .devdata/gutenberg_sp1024)")
    r.add_argument("--mirror", type=Path, default=Path("/work/.mirror/openai+parameter-golf/repo"),
                   help="--smoke: where #1473's and #1855's scripts are read from")
    a = ap.parse_args()
    if a.cmd == "prepare":
        prepare(a.shared, a.mirror if a.mirror.exists() else None)
        return 0
    return run([s for s in a.only.split(",") if s], a.out, a.smoke, a.data, a.mirror)


if __name__ == "__main__":
    raise SystemExit(main())
