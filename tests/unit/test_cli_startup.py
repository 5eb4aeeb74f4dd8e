"""`pgolf --help` and argument errors build the whole parser without importing torch or the config tree (issue 16
item 10): every verb module keeps its heavy imports inside the verb function. Checked in a fresh interpreter."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
from pgolf.cli import build_parser, main
build_parser()
rc = main(["frobnicate"])
heavy = sorted(m for m in ("torch", "numpy", "pgolf.config", "pgolf.model.gpt") if m in sys.modules)
print(rc, ",".join(heavy) or "-")
"""


def test_parser_and_argument_errors_import_no_torch():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["2", "-"], out.stdout + out.stderr
    assert out.stderr.count("\n") == 1 and "frobnicate" in out.stderr  # one line, naming the bad verb
