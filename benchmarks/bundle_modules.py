"""What the bundled train_gpt.py of a recipe spends its code bytes on, stage by stage, and module by module.

The issue's bar: `pgolf bundle --recipe pr1855` ≤ 31,999 bytes (#1855's counted code: 157,868 B of source →
pyminify + brotli + base85). This script prints, for a recipe, the wrapped size (base85) after each stage of
pgolf.artifact.bundle: the whole import closure minified by the AST round trip (the bundle before feature pruning);
with the modules of features the config leaves off stubbed and unused imports / modules / definitions removed
(pgolf.artifact.bundle_prune, bundle_shake); the same under brotli-11; and with python-minifier's local renaming
(`artifact.code_minify=pyminify`) — then the bytes of each module that remains (minified, and brotli of it alone).

Usage:  PYTHONPATH=src python benchmarks/bundle_modules.py [--recipe pr1855] [--top 25]
"""

from __future__ import annotations

import argparse
import base64
import sys

import brotli

from pgolf.artifact.bundle import (
    _stub_payload,
    build,
    bundled_sources,
    compress_code,
    import_closure,
    minify,
    rename_locals,
    shipped_delta,
)
from pgolf.config import override
from pgolf.recipes import get_recipe
from pgolf.train.shipped import shipped_config


def wrapped(modules: dict, cfg, recipe: str, codec: str, pruned=()) -> int:
    payload = _stub_payload(modules, shipped_delta(cfg), recipe, pruned).encode()
    return len(base64.b85encode(compress_code(payload, codec))) + 50  # + the two-line stub around it


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--recipe", default="pr1855")
    ap.add_argument("--top", type=int, default=25)
    args = ap.parse_args(argv)
    cfg = shipped_config(get_recipe(args.recipe).build())
    whole = {n: (pkg, minify(p.read_text(encoding="utf-8"))) for n, (p, pkg) in import_closure().items()}
    mods, pruned = bundled_sources(cfg)
    renamed = {n: (pkg, rename_locals(s)) for n, (pkg, s) in mods.items()}
    size = lambda m: sum(len(s) for _, s in m.values())  # noqa: E731
    print(f"recipe {args.recipe} (artifact.code_minify={cfg.artifact.code_minify}, code_codec={cfg.artifact.code_codec})")
    print(f"  closure, AST-minified, LZMA (no pruning):        {wrapped(whole, cfg, args.recipe, 'lzma'):>7,} B"
          f"   {len(whole)} modules, {size(whole):,} B source")
    print(f"  features pruned + shaken, LZMA:                  {wrapped(mods, cfg, args.recipe, 'lzma', pruned):>7,} B"
          f"   {len(mods)} modules, {size(mods):,} B source")
    print(f"  … brotli-11:                                     {wrapped(mods, cfg, args.recipe, 'brotli', pruned):>7,} B")
    print(f"  … pyminify + brotli-11:                          {wrapped(renamed, cfg, args.recipe, 'brotli', pruned):>7,} B"
          f"   {size(renamed):,} B source")
    for minify_, codec in (("ast", "lzma"), ("pyminify", "brotli")):
        c = override(cfg, {"artifact.code_minify": minify_, "artifact.code_codec": codec})
        print(f"  pgolf bundle with code_minify={minify_}, code_codec={codec}: {len(build(c, args.recipe)):>7,} B")
    print("  the bar (#1855's counted code):                   31,999 B")
    print(f"stubbed feature modules ({len(pruned)}): {', '.join(pruned)}")
    rows = sorted(((len(brotli.compress(s.encode(), quality=11)), len(s), n) for n, (_, s) in renamed.items()),
                  reverse=True)
    print(f"\n{'brotli alone':>12} {'pyminified':>10}  module (largest {args.top} of {len(rows)})")
    for z, raw, n in rows[: args.top]:
        print(f"{z:>12,} {raw:>10,}  {n}{'   (stub)' if n in pruned else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
