"""The one exception type users see.

A `PgolfError` carries a single line that names the file or field at fault and what was expected. The CLI prints it
to stderr and exits with status 2 — never a traceback. Library code raises it for bad *input*; genuine bugs stay
ordinary exceptions so they keep their tracebacks.
"""

import argparse
import sys
from collections.abc import Callable


class PgolfError(Exception):
    """A user-facing error: one line, names the culprit, says what was expected."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(message.splitlines()[0] if message else message)


class OneLineArgParser(argparse.ArgumentParser):
    """argparse whose usage errors are a PgolfError (one line, exit 2) instead of usage text + exit."""

    def error(self, message: str):
        raise PgolfError(f"{self.prog}: {message}")


def exit_status(prog: str, fn: Callable[[], int]) -> int:
    """Run a command: a PgolfError is one `PROG: error: …` line on stderr and its exit code, Ctrl-C is 130."""
    try:
        return fn()
    except PgolfError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
