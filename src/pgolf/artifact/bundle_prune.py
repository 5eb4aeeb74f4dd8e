"""Feature pruning for the bundled train_gpt.py: a module whose feature the bundled config leaves off ships as a stub.

Code bytes are weight bytes lost (issue 17: #1855 counts 31,999 B of code). The bundle's static import closure holds
every feature module the training path names at its top, on or off; a recipe that leaves a feature off pays for it.
Here each feature module is paired with a predicate "is it needed by this config" (`NEEDED`), and a module that is not
needed ships as a stub (`stub`): its dataclasses and module-level constants stay (the config tree is typed by them),
every function and other class becomes a one-line body that raises PgolfError naming the module. What the stub no
longer imports drops out of the closure.

Invariants:
- A stubbed module is never executed by a run of the bundled config: the bundle's entry (`check`) refuses, in one
  line, any command-line override that turns a pruned feature back on, and the test suite runs every recipe's tiny
  training and evaluation under a profiler and asserts no pruned module's code runs (tests/artifact/test_bundle_prune.py).
- Predicates read only the config (never the data, the device or the world size): one config, one bundle.
- A module missing from `NEEDED` is always shipped whole: forgetting an entry costs bytes, never correctness.
- A "module:function" entry stubs one top-level function (an entry point the config dispatches away from, e.g.
  full-model TTT when the phased variant runs); what only it used is then shaken out.
"""

from __future__ import annotations

import ast
from collections.abc import Callable

from pgolf.errors import PgolfError

_TTT = lambda c: c.eval.ttt is not None  # noqa: E731
_LORA = lambda c: _TTT(c) and c.eval.ttt.lora is not None  # noqa: E731
_PHASED = lambda c: _LORA(c) and c.eval.ttt.phased is not None  # noqa: E731
_ISOLATED = lambda c: _PHASED(c) and c.eval.ttt.phased.isolate_docs  # noqa: E731 (global phase: cu_seqlens + varlen)

# "module" or "module:function" → (the config keys that turn it on, "is it needed by this config")
NEEDED: dict[str, tuple[str, Callable]] = {
    # the evaluation entry points of the three TTT variants (eval.run dispatches on the config)
    "pgolf.eval.ttt:eval_ttt_full": ("eval.ttt without lora", lambda c: _TTT(c) and c.eval.ttt.lora is None),
    "pgolf.eval.ttt_lora:eval_ttt_lora": ("eval.ttt.lora without phased",
                                          lambda c: _LORA(c) and c.eval.ttt.phased is None),
    "pgolf.artifact.bundle": ("(building bundles)", lambda c: False),  # a bundle counts its own file size
    "pgolf.artifact.pergroup": ("artifact.pergroup", lambda c: c.artifact.pergroup is not None),
    "pgolf.artifact.rans": ("artifact.storage", lambda c: c.artifact.storage == "rans"),
    "pgolf.data.packed": ("data.loader / eval.ttt.phased.isolate_docs",
                          lambda c: c.data.loader == "packed" or _ISOLATED(c)),
    "pgolf.data.shuffled": ("data.loader", lambda c: c.data.loader == "shuffled"),
    "pgolf.eval.lora": ("eval.ttt.lora", _LORA),
    "pgolf.eval.ngram_tilt": ("eval.ttt.tilt", lambda c: _PHASED(c) and c.eval.ttt.tilt is not None),
    "pgolf.eval.ttt": ("eval.ttt", _TTT),
    "pgolf.eval.ttt_global": ("eval.ttt.phased", _PHASED),
    "pgolf.eval.ttt_lora": ("eval.ttt.lora", _LORA),
    "pgolf.eval.ttt_phased": ("eval.ttt.phased", _PHASED),
    "pgolf.model.features.asym_logit": ("model.asym_logit", lambda c: c.model.asym_logit is not None),
    "pgolf.model.features.backout": ("model.backout", lambda c: c.model.backout is not None),
    "pgolf.model.features.bigram_hash": ("model.bigram_hash", lambda c: c.model.bigram_hash is not None),
    "pgolf.model.features.skip_gates": ("model.unet_skips", lambda c: c.model.unet_skips),  # plain skips too
    "pgolf.model.features.value_embed": ("model.value_embed", lambda c: c.model.value_embed is not None),
    "pgolf.model.features.value_residual": ("model.value_residual", lambda c: c.model.value_residual is not None),
    "pgolf.model.features.varlen": ("model.varlen / eval.ttt.phased.isolate_docs",
                                    lambda c: c.model.varlen is not None or _ISOLATED(c)),
    "pgolf.quant.generate": ("quant.gptq.calibration",
                             lambda c: c.quant.gptq is not None and c.quant.gptq.calibration == "generated"),
    "pgolf.quant.prune": ("quant.prune / quant.selective_prune",
                          lambda c: c.quant.prune is not None or c.quant.selective_prune is not None),
    "pgolf.train.checkpoint": ("train.checkpoint", lambda c: c.train.checkpoint is not None),
    "pgolf.train.progressive_context": ("train.progressive_context", lambda c: c.train.progressive_context is not None),
    "pgolf.train.qat": ("train.qat", lambda c: c.train.qat is not None),
}


def pruned_modules(cfg) -> tuple[str, ...]:
    """The feature modules ("module") and entry points ("module:function") this config does not need, sorted."""
    return tuple(sorted(m for m, (_, needed) in NEEDED.items() if not needed(cfg)))


def check(cfg, pruned) -> None:
    """Refuse a config (the bundled one after command-line overrides) that needs a module this bundle left out."""
    back = [f"{m} ({NEEDED[m][0]})" for m in pruned if m in NEEDED and NEEDED[m][1](cfg)]
    if back:
        raise PgolfError(f"this train_gpt.py was bundled without {', '.join(back)}: the overrides turn it on; "
                         "rebuild the bundle with `pgolf bundle` and these overrides")


def _is_dataclass(node: ast.ClassDef) -> bool:
    return any("dataclass" in ast.unparse(d) for d in node.decorator_list)


def stub(tree: ast.Module, name: str, only: str | None = None) -> ast.Module:
    """The module with every function and non-dataclass class replaced by a body that raises PgolfError; with
    `only`, just the top-level function of that name."""
    msg = f"{name}{':' + only if only else ''} was left out of this bundle: its feature is off in the bundled config"
    if only is not None:
        tree.body = [ast.parse(f"def {st.name}(*a, **k):\n    raise PgolfError({msg!r})").body[0]
                     if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)) and st.name == only else st
                     for st in tree.body]
        tree.body.insert(next(i for i, st in enumerate(tree.body) if not (
            isinstance(st, ast.ImportFrom) and st.module == "__future__")),
            ast.parse("from pgolf.errors import PgolfError").body[0])
        return tree
    future = [st for st in tree.body if isinstance(st, ast.ImportFrom) and st.module == "__future__"]
    body: list[ast.stmt] = [*future, ast.parse("from pgolf.errors import PgolfError").body[0]]
    for st in tree.body:
        if st in future:
            continue
        if isinstance(st, (ast.FunctionDef, ast.AsyncFunctionDef)):
            st = ast.parse(f"def {st.name}(*a, **k):\n    raise PgolfError({msg!r})").body[0]
        elif isinstance(st, ast.ClassDef) and not _is_dataclass(st):
            st = ast.parse(f"class {st.name}:\n    def __init__(s, *a, **k):\n        raise PgolfError({msg!r})").body[0]
        body.append(st)
    return ast.Module(body=body, type_ignores=[])
