"""Tree shaking of the bundle (pgolf.artifact.bundle_shake): what no kept code names goes, everything named stays."""

from __future__ import annotations

import ast
import sys
import types

from pgolf.artifact.bundle_shake import drop_unused_imports, shake, strip_annotations


def _defs(tree: ast.Module) -> set[str]:
    out = set()
    for st in tree.body:
        if isinstance(st, (ast.FunctionDef, ast.ClassDef)):
            out.add(st.name)
            if isinstance(st, ast.ClassDef):
                out.update(f"{st.name}.{b.name}" for b in st.body if isinstance(b, ast.FunctionDef))
    return out


A = '''
import registry
def used(): return helper()
def helper(): return 1
def dead(): return dead_helper()
def dead_helper(): return 2
def by_string(): return 3
@registry.register("x")
def registered(): return 4
X = used() + getattr(object, "by_string", 0)
class Kept:
    def method(self): return 1
    def unused_method(self): return 2
    def __repr__(self): return "k"
Kept().method()
'''
B = '''
import torch
class Net(torch.nn.Module):
    def forward(self, x): return x
    def _load_from_state_dict(self, *a): return None
    def extra(self): return 0
def entry(): return Net()
'''


def test_shake_keeps_what_is_named_and_drops_the_rest_to_a_fixpoint(monkeypatch):
    b = types.ModuleType("pgolf.b")  # importable, as every bundled module is: its bases are looked up for overrides
    exec(compile(B, "<b>", "exec", dont_inherit=True), b.__dict__)
    monkeypatch.setitem(sys.modules, "pgolf.b", b)
    trees = {"pgolf.a": ast.parse(A), "pgolf.b": ast.parse(B)}
    dropped = shake(trees, keep={"entry"})
    assert _defs(trees["pgolf.a"]) == {"used", "helper", "by_string", "registered", "Kept", "Kept.method",
                                       "Kept.__repr__"}
    # Net overrides torch.nn.Module's forward / _load_from_state_dict: torch calls them; `extra` nobody names
    assert _defs(trees["pgolf.b"]) == {"Net", "Net.forward", "Net._load_from_state_dict", "entry"}
    assert dropped == sorted(["pgolf.a.dead", "pgolf.a.dead_helper", "pgolf.a.Kept.unused_method",
                              "pgolf.b.Net.extra"])
    assert shake({"pgolf.b": ast.parse(B)}) == ["pgolf.b.Net", "pgolf.b.entry"]  # no `keep`: entry, then Net
    monkeypatch.delitem(sys.modules, "pgolf.b")  # a class whose module cannot be imported keeps every method
    trees = {"pgolf.b": ast.parse(B)}
    assert shake(trees, keep={"entry"}) == [] and "Net.extra" in _defs(trees["pgolf.b"])


def test_drop_unused_imports_keeps_re_exports_and_future():
    tree = ast.parse("from __future__ import annotations\nimport os, sys\nfrom m import a, b, c\nprint(sys, a)\n")
    got = ast.unparse(drop_unused_imports(tree, exported={"c"}))
    assert got.splitlines() == ["from __future__ import annotations", "import sys", "from m import a, c",
                                "print(sys, a)"]


def test_strip_annotations_keeps_class_fields():
    src = ("from dataclasses import dataclass\n@dataclass\nclass C:\n    x: int = 1\n"
           "def f(a: int, *b: str, c: float = 1.0, **d: bool) -> int:\n    y: int = a\n    z: str\n    return y\n")
    got = strip_annotations(ast.parse(src))
    ns: dict = {}
    exec(compile(got, "<t>", "exec", dont_inherit=True), ns)
    assert ns["C"]().x == 1 and ns["C"].__dataclass_fields__["x"].type is int
    assert ns["f"](3) == 3 and ns["f"].__annotations__ == {}
    assert "x: int = 1" in ast.unparse(got) and "y = a" in ast.unparse(got)
