"""What the bundled train_gpt.py of a recipe spends its code bytes on, and what pruning / wrapping could save.

The issue's bar: `pgolf bundle --recipe pr1855` ≤ 31,999 bytes (#1855's counted code: 157,868 B of source →
pyminify + brotli + base85). This script prints, for a recipe: the bundle as built today (LZMA + base85 of the
AST-minified import closure); each module's bytes (minified source, and LZMA of it alone); the modules whose only
purpose is a feature the recipe leaves off (`FEATURE_MODULES`, checked against the recipe's config) and the bundle
without them; the same payload under brotli-11 instead of LZMA; and with annotations stripped too. Estimates only
(the pruned bundle is not runnable as is: the importing modules name those modules at their top).

Usage:  PYTHONPATH=src python benchmarks/bundle_modules.py [--recipe pr1855] [--top 25]
"""

from __future__ import annotations

import argparse
import ast
import base64
import lzma
import sys

from pgolf.artifact.bundle import _LZMA_FILTERS, _stub_payload, build, import_closure, minify
from pgolf.config import to_dict
from pgolf.recipes import get_recipe

# module → predicate on the config that says its feature is OFF (so the module is dead weight in this bundle)
FEATURE_MODULES = {
    "pgolf.train.qat": lambda c: c.train.qat is None,
    "pgolf.train.checkpoint": lambda c: c.train.checkpoint is None,
    "pgolf.train.progressive_context": lambda c: c.train.progressive_context is None,
    "pgolf.quant.awq": lambda c: c.quant.awq is None,
    "pgolf.quant.prune": lambda c: c.quant.prune is None and c.quant.selective_prune is None,
    "pgolf.quant.generate": lambda c: c.quant.gptq is None or c.quant.gptq.calibration != "generated",
    "pgolf.quant.lqer": lambda c: c.quant.lqer is None,
    "pgolf.artifact.rans": lambda c: c.artifact.storage != "rans",
    "pgolf.data.shuffled": lambda c: c.data.loader != "shuffled",
    "pgolf.data.packed": lambda c: c.data.loader != "packed",
    "pgolf.eval.sliding": lambda c: c.eval.stride == 0,
    "pgolf.eval.ttt": lambda c: c.eval.ttt is None,
    "pgolf.eval.ttt_lora": lambda c: c.eval.ttt is None or c.eval.ttt.lora is None,
    "pgolf.eval.lora": lambda c: c.eval.ttt is None or c.eval.ttt.lora is None,
    "pgolf.model.features.bigram_hash": lambda c: c.model.bigram_hash is None,
    "pgolf.model.features.value_embed": lambda c: c.model.value_embed is None,
    "pgolf.model.features.value_residual": lambda c: c.model.value_residual is None,
    "pgolf.model.features.backout": lambda c: c.model.backout is None,
    "pgolf.model.features.varlen": lambda c: c.model.varlen is None,
    "pgolf.model.features.asym_logit": lambda c: c.model.asym_logit is None,
    "pgolf.model.features.skip_gates": lambda c: c.model.skip_gates is None,
    "pgolf.artifact.bundle": lambda c: True,  # a bundle counts its own file size; building bundles is not needed
}


class _StripAnnotations(ast.NodeTransformer):
    """Drop annotations that do not define dataclass fields (function signatures); keep AnnAssign in classes."""

    def visit_arg(self, node):
        node.annotation = None
        return node

    def visit_FunctionDef(self, node):
        self.generic_visit(node)
        node.returns = None
        return node

    visit_AsyncFunctionDef = visit_FunctionDef


def packed(modules: dict, cfg, recipe: str, codec: str) -> int:
    payload = _stub_payload(modules, to_dict(cfg), recipe).encode()
    if codec == "lzma":
        blob = lzma.compress(payload, format=lzma.FORMAT_XZ, check=lzma.CHECK_NONE, filters=_LZMA_FILTERS)
    else:
        import brotli  # optional dependency: only this estimate needs it

        blob = brotli.compress(payload, quality=11)
    return len(base64.b85encode(blob)) + 60  # + the two-line stub around it


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--recipe", default="pr1855")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args(argv)
    cfg = get_recipe(args.recipe).build()
    closure = import_closure()
    mods = {n: (pkg, minify(p.read_text(encoding="utf-8"))) for n, (p, pkg) in closure.items()}
    off = sorted(n for n, pred in FEATURE_MODULES.items() if n in mods and pred(cfg))
    pruned = {n: v for n, v in mods.items() if n not in off}
    bare = {n: (pkg, ast.unparse(_StripAnnotations().visit(ast.parse(src)))) for n, (pkg, src) in pruned.items()}
    print(f"recipe {args.recipe}: {len(mods)} modules, {sum(len(s) for _, s in mods.values()):,} B minified source")
    print(f"  bundle today (pgolf bundle, LZMA + base85):     {len(build(cfg, args.recipe)):>7,} B")
    print(f"  same payload, brotli-11 + base85:               {packed(mods, cfg, args.recipe, 'brotli'):>7,} B")
    print(f"  without the {len(off)} feature-off modules (LZMA): {packed(pruned, cfg, args.recipe, 'lzma'):>7,} B")
    print(f"  … and brotli-11:                                {packed(pruned, cfg, args.recipe, 'brotli'):>7,} B")
    print(f"  … and signature annotations stripped (brotli):  {packed(bare, cfg, args.recipe, 'brotli'):>7,} B")
    print("  the bar (#1855's counted code):                  31,999 B")
    print(f"feature-off modules: {', '.join(off)}")
    rows = sorted(((len(lzma.compress(s.encode(), format=lzma.FORMAT_RAW, filters=_LZMA_FILTERS)), len(s), n)
                   for n, (_, s) in mods.items()), reverse=True)
    print(f"\n{'LZMA alone':>10} {'minified':>9}  module (largest {args.top})")
    for z, raw, n in rows[: args.top]:
        print(f"{z:>10,} {raw:>9,}  {n}{'   (feature off)' if n in off else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
