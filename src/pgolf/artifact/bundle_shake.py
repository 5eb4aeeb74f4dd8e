"""Tree shaking for the bundled train_gpt.py: drop the functions, classes, methods and imports no bundled code names.

After feature pruning (pgolf.artifact.bundle_prune) much of the closure is reachable only from stubs or from the
package's other entry points (CLI verbs, data builds, benchmarks). This pass keeps a definition only when its name is
used by code that is kept, to a fixpoint, across all bundled modules at once:

- kept from the start: every module-level statement that is not a def or class (imports, assignments, calls);
- a top-level def / class is kept when its name occurs in kept code: as a name, an attribute, an imported alias, a
  keyword argument, or a word of a string constant (so `getattr(x, "name")`, `__all__` and registry keys count);
- a method of a kept class is kept when its name occurs in kept code, when it is a dunder, or when it overrides a
  method of a base class outside pgolf (torch calls `forward`, `_load_from_state_dict`, `step` … itself);
- a decorated def is kept unless every decorator is one of the side-effect-free ones in `_PURE` (a registering
  decorator runs at import; dropping its def would drop the registration).

Names, not bindings, are tracked: two defs sharing a name in different modules are kept together. That is
conservative — a name used anywhere keeps every def of that name — and sound for code that does not build attribute
names at run time, which the bundle's exact-reproduction tests check end to end (tests/artifact/test_bundle.py).
`strip_annotations` drops annotations Python never evaluates here (every module has `from __future__ import
annotations`): function signatures and annotations of function-local variables; class-level ones stay (dataclass
fields are annotations).
"""

from __future__ import annotations

import ast
import importlib
import re

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_FUNCS = (ast.FunctionDef, ast.AsyncFunctionDef)
_PURE = {"property", "staticmethod", "classmethod", "cached_property", "dataclass", "no_grad", "inference_mode",
         "compile", "cache", "lru_cache", "wraps", "setter", "getter", "deleter"}


def names_used(node: ast.AST, out: set[str]) -> set[str]:
    for n in ast.walk(node):
        if isinstance(n, ast.Name):
            out.add(n.id)
        elif isinstance(n, ast.Attribute):
            out.add(n.attr)
        elif isinstance(n, ast.alias):
            out.update(n.name.split("."))
        elif isinstance(n, ast.keyword) and n.arg:
            out.add(n.arg)
        elif isinstance(n, ast.Constant) and isinstance(n.value, str):
            out.update(_WORD.findall(n.value))
    return out


def _pure(node) -> bool:
    return all(_WORD.findall(ast.unparse(d).split("(")[0])[-1] in _PURE for d in node.decorator_list)


def _external_overrides(module: str, cls: str) -> set[str]:
    """Method names that class `cls` of `module` may inherit from a base outside pgolf (torch, stdlib)."""
    try:
        obj = getattr(importlib.import_module(module), cls)
    except Exception:  # noqa: BLE001 - not importable here (never the case for the package itself): keep every method
        return {"*"}
    if not isinstance(obj, type):
        return {"*"}
    return {k for base in obj.__mro__[1:] if not base.__module__.startswith("pgolf") for k in vars(base)}


def shake(trees: dict[str, ast.Module], keep: set[str] = frozenset(), cache: dict | None = None) -> list[str]:
    """Drop unused defs from every tree in place, to a fixpoint; `keep`: names used from outside the trees (the
    entry point); `cache`: id(statement) → its names, reusable across calls on the same trees. Returns the dropped
    qualified names, sorted."""
    cache = {} if cache is None else cache

    def names_of(node, used):
        if isinstance(node, (ast.Import, ast.ImportFrom)):  # their names shrink as imports are dropped: never cached
            used |= names_used(node, set())
            return
        got = cache.get(id(node))
        if got is None:
            got = cache[id(node)] = (node, frozenset(names_used(node, set())))  # the node is held: its id stays its own
        used |= got[1]

    top = {m: {i for i, st in enumerate(t.body) if isinstance(st, _DEFS) and not _pure(st)} for m, t in trees.items()}
    meth: dict[tuple[str, int], set[int]] = {}
    over: dict[tuple[str, int], set[str]] = {}
    while True:
        used: set[str] = set(keep)
        for m, t in trees.items():
            for i, st in enumerate(t.body):
                if not isinstance(st, _DEFS):
                    names_of(st, used)
                elif i in top[m] and isinstance(st, ast.ClassDef):
                    for d in (*st.decorator_list, *st.bases, *st.keywords):
                        names_of(d, used)
                    kept = meth.get((m, i), set())
                    for j, b in enumerate(st.body):
                        if not isinstance(b, _FUNCS) or j in kept:
                            names_of(b, used)
                elif i in top[m]:
                    names_of(st, used)
        grew = False
        for m, t in trees.items():
            for i, st in enumerate(t.body):
                if isinstance(st, _DEFS) and i not in top[m] and st.name in used:
                    top[m].add(i)
                    grew = True
                if isinstance(st, ast.ClassDef) and i in top[m]:
                    kept = meth.setdefault((m, i), set())
                    ext = over.setdefault((m, i), _external_overrides(m, st.name) if st.bases else set())
                    for j, b in enumerate(st.body):
                        if isinstance(b, _FUNCS) and j not in kept and (
                                b.name in used or b.name.startswith("__") or b.name in ext or "*" in ext
                                or not _pure(b)):
                            kept.add(j)
                            grew = True
        if not grew:
            break
    dropped: list[str] = []
    for m, t in trees.items():
        body = []
        for i, st in enumerate(t.body):
            if isinstance(st, _DEFS) and i not in top[m]:
                dropped.append(f"{m}.{st.name}")
                continue
            if isinstance(st, ast.ClassDef):
                kept = meth[(m, i)]
                dropped += [f"{m}.{st.name}.{b.name}" for j, b in enumerate(st.body) if isinstance(b, _FUNCS) and j not in kept]
                st.body = [b for j, b in enumerate(st.body) if not isinstance(b, _FUNCS) or j in kept] or [ast.Pass()]
            body.append(st)
        t.body = body
    return sorted(dropped)


def drop_unused_imports(tree: ast.Module, exported: set[str] = frozenset()) -> ast.Module:
    """Remove module-level imported names the module's other code never uses and no other module imports from it
    (`exported`: re-exports); `__future__` imports stay."""
    used: set[str] = set(exported)
    for st in tree.body:
        if not isinstance(st, (ast.Import, ast.ImportFrom)):
            names_used(st, used)
    body = []
    for st in tree.body:
        if isinstance(st, (ast.Import, ast.ImportFrom)) and getattr(st, "module", None) != "__future__":
            st.names = [a for a in st.names if (a.asname or a.name.split(".")[0]) in used]
            if not st.names:
                continue
        body.append(st)
    tree.body = body
    return tree


class _StripAnnotations(ast.NodeTransformer):
    def visit_FunctionDef(self, node):
        for a in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs, node.args.vararg, node.args.kwarg):
            if a is not None:
                a.annotation = None
        node.returns = None
        node.body = [self._local(s) for s in node.body]
        self.generic_visit(node)
        return node

    visit_AsyncFunctionDef = visit_FunctionDef

    @staticmethod
    def _local(st):
        if isinstance(st, ast.AnnAssign) and st.simple:
            return ast.Assign(targets=[st.target], value=st.value, lineno=st.lineno) if st.value is not None else ast.Pass()
        return st


def strip_annotations(tree: ast.Module) -> ast.Module:
    """Signature and function-local annotations removed; module and class annotations (dataclass fields) kept."""
    return ast.fix_missing_locations(_StripAnnotations().visit(tree))
