"""The options a run takes on the command line, shared by `pgolf train` and the bundled train_gpt.py.

argparse only (no torch, no config): `pgolf --help` and argument errors register these without importing the
training path.
"""

from __future__ import annotations


def add_run_options(p) -> None:
    p.add_argument("--data", help="directory with fineweb_{train,val}_*.bin (sets data.path)")
    p.add_argument("--tokenizer", help="SentencePiece .model (sets data.tokenizer)")
    p.add_argument("--out", help="run directory (default runs/RECIPE-TIMESTAMP)")
    p.add_argument("--dry-run", action="store_true", help="print the resolved config only")
    p.add_argument("overrides", nargs="*", metavar="key=value",
                   help="config overrides, e.g. train.iterations=200 (keys: `pgolf keys`)")
