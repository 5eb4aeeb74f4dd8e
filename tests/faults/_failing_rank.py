"""Child of test_faults.py: one rank of a 2-rank gloo `pgolf train`; rank 1 raises a user error at step 2."""

import sys

import pgolf.train.loop as loop
from pgolf.cli import main
from pgolf.errors import PgolfError
from pgolf.runtime.dist import torchrun_env

rank = torchrun_env()[0]
make = loop.make_step_fn


def failing_make(*a, **k):
    step = make(*a, **k)

    def run(i, *args):
        if rank == 1 and i == 2:
            raise PgolfError("rank 1: simulated bad shard at step 2")
        return step(i, *args)

    return run


loop.make_step_fn = failing_make
import pgolf.train.run as run_mod  # noqa: E402

run_mod.make_step_fn = failing_make
sys.exit(main(sys.argv[1:]))
