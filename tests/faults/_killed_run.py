"""Child of test_faults.py: `pgolf train …` that freezes inside the fsync of checkpoint step K's shared.pt (the data
written to a temporary file, not yet renamed) and tells the parent, which then SIGKILLs it mid-write."""

import os
import sys
import time
import types

import pgolf.runtime.atomic_write as aw
from pgolf.cli import main

K, marker = int(sys.argv[1]), sys.argv[2]
real_fsync = os.fsync


def fsync(fd):
    real_fsync(fd)
    target = os.readlink(f"/proc/self/fd/{fd}")
    if f"step_{K:07d}" in target and os.path.basename(target).startswith(".shared.pt."):
        open(marker, "w").close()
        time.sleep(600)


aw.os = types.SimpleNamespace(**{n: getattr(os, n) for n in dir(os) if not n.startswith("__")})
aw.os.fsync = fsync
sys.exit(main(sys.argv[3:]))
