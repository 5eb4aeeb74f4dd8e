"""The layout rules of docs/CONTRIBUTING.md, checked on the checkout's source (issue 12):

* every module of src/pgolf has at most 500 lines, and one over 300 says why in its docstring, on a line
  `Over 300 lines: <reason>`;
* every import below module level (inside a function, or under `if TYPE_CHECKING:` / `try:`) states its reason: a
  comment on the import, or on a comment line directly above its group of imports (a group: imports separated only
  by blank lines and comments), or once for the module in its docstring: `Imports inside the functions are
  deliberate: <reason>`. A comment that is only a lint directive (`# noqa: F401`) is no reason;
* test module basenames are unique across tests/ (pytest imports them by basename: a duplicate breaks collection).

Each checker also runs on small synthetic sources: it must flag the bad ones, not only pass on the good tree.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "pgolf"
HARD_CAP, SOFT_CAP = 500, 300
LONG_REASON = re.compile(r"^\s*Over 300 lines: \S", re.M)
MODULE_REASON = re.compile(r"Imports inside the functions are deliberate: \S")
DIRECTIVE = re.compile(r"noqa(:\s*[A-Z]+[0-9]+(,\s*[A-Z]+[0-9]+)*)?|type:\s*ignore(\[[^\]]*\])?|pragma:[^#]*|isort:\s*\w+")


def length_problems(name: str, source: str) -> list[str]:
    n = len(source.splitlines())
    if n > HARD_CAP:
        return [f"{name}: {n} lines, over the hard cap of {HARD_CAP}"]
    if n > SOFT_CAP and not LONG_REASON.search(ast.get_docstring(ast.parse(source)) or ""):
        return [f"{name}: {n} lines, over {SOFT_CAP} without a docstring line 'Over 300 lines: <reason>'"]
    return []


def _reason(comment: str) -> bool:
    """A comment states a reason when something besides lint directives is left in it."""
    return re.search(r"[A-Za-z]{3,}", DIRECTIVE.sub("", comment.lstrip("#"))) is not None


def unexplained_imports(name: str, source: str) -> list[str]:
    tree = ast.parse(source)
    if MODULE_REASON.search(ast.get_docstring(tree) or ""):
        return []
    lines = source.splitlines()
    comments = {tok.start[0]: tok.string for tok in tokenize.generate_tokens(io.StringIO(source).readline)
                if tok.type == tokenize.COMMENT}
    top = {id(node) for node in tree.body}
    imports = [node for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))]
    import_line = {i for node in imports for i in range(node.lineno, node.end_lineno + 1)}
    problems = []
    for node in sorted((n for n in imports if id(n) not in top), key=lambda n: n.lineno):
        own = any(_reason(comments.get(i, "")) for i in range(node.lineno, node.end_lineno + 1))
        above, i = False, node.lineno - 1
        while not (own or above) and i >= 1:  # up through this group of imports, blank lines and comments
            text = lines[i - 1].strip()
            if text.startswith("#") or i in import_line:
                above = _reason(comments.get(i, ""))
            elif text:
                break
            i -= 1
        if not (own or above):
            problems.append(f"{name}:{node.lineno}: `{lines[node.lineno - 1].strip()}` states no reason")
    return problems


def _modules():
    return sorted(SRC.rglob("*.py"))


def _rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


def test_every_module_is_within_the_line_caps():
    problems = [msg for p in _modules() for msg in length_problems(_rel(p), p.read_text())]
    assert not problems, "\n".join(problems)


def test_every_import_below_module_level_states_its_reason():
    problems = [msg for p in _modules() for msg in unexplained_imports(_rel(p), p.read_text())]
    assert not problems, "\n".join(problems)


def test_test_module_basenames_are_unique():
    names = Counter(p.name for p in (ROOT / "tests").rglob("*.py") if p.name != "conftest.py")
    assert not [n for n, c in names.items() if c > 1], sorted(n for n, c in names.items() if c > 1)


# ---------------------------------------------------------------- the checkers on synthetic sources


def _module(n_lines: int, docstring: str) -> str:
    head = f'"""{docstring}"""\n'
    return head + "x = 1\n" * (n_lines - len(head.splitlines()))


@pytest.mark.parametrize("n,doc,flagged", [
    (300, "Short.", False),
    (301, "Long.", True),
    (301, "Long.\n\nOver 300 lines: one state machine; split, its transitions would scatter.", False),
    (301, "Long.\n\nOver 300 lines:", True),  # the reason itself is missing
    (501, "Long.\n\nOver 300 lines: a reason does not lift the hard cap.", True),
], ids=["300 lines", "301 without a reason", "301 with a reason", "301 with an empty reason", "501 with a reason"])
def test_length_checker_flags_bad_modules(n, doc, flagged):
    source = _module(n, doc)
    assert len(source.splitlines()) == n
    assert bool(length_problems("m.py", source)) is flagged


BAD_IMPORTS = {
    "bare": "def f():\n    import json\n    return json\n",
    "directive only": "def f():\n    import json  # noqa: F401\n",
    "type checking": "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from pathlib import Path\n",
    "try": "try:\n    import brotli\nexcept ImportError:\n    brotli = None\n",
    "reason of another function": "def f():\n    import json  # cold path\n\n\ndef g():\n    import csv\n",
    "comment after code": "def f():\n    # cold path\n    x = 1\n    import json\n",
}
GOOD_IMPORTS = {
    "top level": "import json\n\n\ndef f():\n    return json\n",
    "trailing": "def f():\n    import json  # cold path: only the report writes JSON\n",
    "multi-line": "def f():\n    from os import (  # cold path\n        path,\n        sep,\n    )\n",
    "line above": "def f():\n    # heavy (torch), cold path\n    import json\n\n    import csv\n",
    "its group": "def f():\n    import json  # cold path, as are the next\n    import csv\n    import zlib\n",
    "directive and reason": "def f():\n    import json  # noqa: F401  optional dependency, probed\n",
    "module docstring": '"""M.\n\nImports inside the functions are deliberate: torch-free startup."""\n\n\n'
                        "def f():\n    import json\n",
}


@pytest.mark.parametrize("case", sorted(BAD_IMPORTS))
def test_import_checker_flags_imports_without_a_reason(case):
    assert len(unexplained_imports("m.py", BAD_IMPORTS[case])) == 1


@pytest.mark.parametrize("case", sorted(GOOD_IMPORTS))
def test_import_checker_accepts_stated_reasons(case):
    assert unexplained_imports("m.py", GOOD_IMPORTS[case]) == []
