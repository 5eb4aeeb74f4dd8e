"""Side by side on one GPU: pgolf's `baseline` recipe vs the public naive-baseline script, same data, same budget.

Usage (on a CUDA machine, from the repo root):
    git -C /path/to/openai-parameter-golf show HEAD:train_gpt.py > /tmp/public_train_gpt.py
    python benchmarks/baseline_vs_public.py --public-script /tmp/public_train_gpt.py \
        --data .devdata/gutenberg_sp1024 --tokenizer .devdata/fineweb_1024_bpe.model --seconds 120

Both run with nproc_per_node=1 (the public script then uses 8 gradient-accumulation micro-steps, as pgolf's
train.grad_accum=8 does), a 120 s wallclock cap, no periodic validation, and evaluate the int8+zlib round trip on
the full val split of --data. Prints ms/step, steps and round-trip val_bpb for both; writes the logs to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path


def run_public(script: Path, data: Path, tokenizer: Path, seconds: float, out: Path) -> dict:
    env = dict(os.environ, DATA_PATH=str(data), TOKENIZER_PATH=str(tokenizer), MAX_WALLCLOCK_SECONDS=str(seconds),
               VAL_LOSS_EVERY="0", RUN_ID="public", TRAIN_LOG_EVERY="100")
    work = out / "public"
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    p = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1",
                        str(script.resolve())], cwd=work, env=env, capture_output=True, text=True)
    (work / "console.log").write_text(p.stdout + p.stderr)
    if p.returncode:
        raise SystemExit(f"public script failed (rc {p.returncode}); see {work / 'console.log'}")
    text = p.stdout
    steps = [(int(m[1]), float(m[2])) for m in re.finditer(r"step:(\d+)/\d+ .*?step_avg:([\d.]+)ms", text)]
    bpb = re.search(r"final_int8_zlib_roundtrip_exact val_loss:([\d.]+) val_bpb:([\d.]+)", text)
    size = re.search(r"Total submission size int8\+zlib: (\d+) bytes", text)
    return {"steps": steps[-1][0], "ms_per_step": steps[-1][1], "val_bpb": float(bpb[2]), "val_loss": float(bpb[1]),
            "artifact_bytes": int(size[1]), "wall_s": time.time() - t0}


def run_pgolf(data: Path, tokenizer: Path, seconds: float, out: Path) -> dict:
    work = out / "pgolf"
    t0 = time.time()
    p = subprocess.run([sys.executable, "-m", "pgolf", "train", "--recipe", "baseline", "--data", str(data),
                        "--tokenizer", str(tokenizer), "--out", str(work), f"train.max_wallclock_seconds={seconds}",
                        "train.val_every=0", "train.log_every=100"], capture_output=True, text=True)
    (out / "pgolf_console.log").write_text(p.stdout + p.stderr)
    if p.returncode:
        raise SystemExit(f"pgolf failed (rc {p.returncode}); see {out / 'pgolf_console.log'}")
    s = json.loads((work / "summary.json").read_text())
    return {"steps": s["steps"], "ms_per_step": s["ms_per_step"], "val_bpb": s["val_bpb"], "val_loss": s["val_loss"],
            "artifact_bytes": s["artifact_bytes"], "wall_s": time.time() - t0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--public-script", type=Path, required=True)
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--tokenizer", type=Path, required=True)
    ap.add_argument("--seconds", type=float, default=120.0)
    ap.add_argument("--out", type=Path, default=Path("runs/baseline_vs_public"))
    ap.add_argument("--only", choices=["public", "pgolf"], default=None)
    a = ap.parse_args()
    rows = {}
    if a.only != "pgolf":
        rows["public train_gpt.py"] = run_public(a.public_script, a.data, a.tokenizer, a.seconds, a.out)
    if a.only != "public":
        rows["pgolf baseline"] = run_pgolf(a.data, a.tokenizer, a.seconds, a.out)
    print(f"{'system':<22} {'steps':>6} {'ms/step':>8} {'val_bpb':>8} {'bytes':>11} {'wall s':>7}")
    for name, r in rows.items():
        print(f"{name:<22} {r['steps']:>6} {r['ms_per_step']:>8.2f} {r['val_bpb']:>8.4f} {r['artifact_bytes']:>11,} "
              f"{r['wall_s']:>7.0f}")
    (a.out / "table.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
