"""`pgolf recipes [--json]`, `pgolf recipes show NAME [--json]`, `pgolf keys`.
Imports inside the functions are deliberate: torch-free startup (see pgolf.commands)."""

from __future__ import annotations

from pgolf.commands import print_json
from pgolf.errors import PgolfError


def cmd_recipes(args) -> int:
    # heavy (torch), cold path: parameter counts build each model on the meta device; not imported at startup
    from pgolf.config import to_dict, validate
    from pgolf.model.gpt import count_params
    from pgolf.recipes import REGISTRY, get_recipe

    if args.action == "show":
        if not args.name:
            raise PgolfError("pgolf recipes show: a recipe NAME is required")
        r = get_recipe(args.name)
        cfg = validate(r.build())
        out = {"name": r.name, "summary": r.summary, "source": r.source, "author": r.author, "parent": r.parent,
               "reported": r.reported, "params": count_params(cfg.model), "config": to_dict(cfg)}
        if args.json:
            print_json(out)
            return 0
        print(f"{r.name}: {r.summary}\n  source: {r.source or '-'}\n  params: {out['params']:,}")
        for k, v in r.reported.items():
            print(f"  reported {k}: {v}")
        for section, values in out["config"].items():
            for k, v in values.items():
                print(f"  {section}.{k} = {v}")
        return 0
    rows = [{"name": r.name, "summary": r.summary, "params": count_params(validate(r.build()).model),
             "source": r.source} for r in REGISTRY.values()]
    if args.json:
        print_json(rows)
    else:
        for row in rows:
            print(f"{row['name']:<10} {row['params']:>12,} params  {row['summary']}")
    return 0


def register(sub) -> None:
    r = sub.add_parser("recipes", help="list recipes, or `recipes show NAME`")
    r.add_argument("action", nargs="?", choices=["list", "show"], default="list")
    r.add_argument("name", nargs="?")
    r.add_argument("--json", action="store_true")
    r.set_defaults(fn=cmd_recipes)
    k = sub.add_parser("keys", help="list every config key")
    k.set_defaults(fn=cmd_keys)


def cmd_keys(args) -> int:
    from pgolf.config import all_keys  # heavy (torch), cold path: not imported at startup

    print("\n".join(all_keys()))
    return 0
