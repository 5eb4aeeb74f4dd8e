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


class UsageError(PgolfError):
    """A command-line usage error, printed as argparse does: `pgolf train: error: …` (the parser's own prog once)."""

    def __init__(self, prog: str, message: str):
        super().__init__(message)
        self.prog = prog


class OneLineArgParser(argparse.ArgumentParser):
    """argparse whose usage errors are a PgolfError (one line, exit 2) instead of usage text + exit."""

    def error(self, message: str):
        raise UsageError(self.prog, message)


def os_error_line(e: OSError) -> str:
    """One line for a failed file operation: the file, what failed, the OS's reason."""
    where = " → ".join(str(f) for f in (e.filename, e.filename2) if f is not None) or "file operation"
    return f"{where}: {e.strerror or e}"


def exit_status(prog: str, fn: Callable[[], int]) -> int:
    """Run a command: a PgolfError is one `PROG: error: …` line on stderr and its exit code, Ctrl-C is 130.

    An OSError that reaches here (a path that is a file where a directory is needed, a full disk, no permission) is
    the user's environment, not a bug: one line naming the file, exit 2."""
    try:
        return fn()
    except UsageError as e:
        print(f"{e.prog}: error: {e}", file=sys.stderr)
        return e.exit_code
    except PgolfError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return e.exit_code
    except OSError as e:
        print(f"{prog}: error: {os_error_line(e)}", file=sys.stderr)
        return PgolfError.exit_code
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
