"""`pgolf size ARTIFACT [--code FILE | --code-bytes N] [--max-bytes N] [--json]`: code + model bytes against the
decimal cap, with a per-group breakdown. Over the cap is an error (exit 2) after the breakdown, never a success.
Imports inside the functions are deliberate: torch-free startup (see pgolf.commands)."""

from __future__ import annotations

from pathlib import Path

from pgolf.commands import print_json
from pgolf.errors import PgolfError


def cmd_size(args) -> int:
    from pgolf.artifact.size import CODE_BYTES_METHOD, breakdown, package_code_bytes

    if args.code is not None:
        try:
            code, method = len(Path(args.code).read_bytes()), f"file {args.code}"
        except OSError as e:
            raise PgolfError(f"--code {args.code}: cannot read ({e.strerror})") from None
    elif args.code_bytes is not None:
        if args.code_bytes < 0:
            raise PgolfError(f"--code-bytes: expected a non-negative integer, got {args.code_bytes}")
        code, method = args.code_bytes, "given"
    elif (Path(args.artifact).parent / "config.json").is_file():
        from pgolf.artifact.bundle import build
        from pgolf.commands.bundle import run_config

        cfg, recipe = run_config(Path(args.artifact).parent)
        code, method = len(build(cfg, recipe)), "bundle of the run's config.json"
    else:
        code, method = package_code_bytes(), CODE_BYTES_METHOD + " (no config.json beside the artifact: upper bound)"
    b = breakdown(Path(args.artifact))
    total = b["model_bytes"] + code
    within = total <= args.max_bytes
    out = {**b, "code_bytes": code, "code_bytes_method": method, "total_bytes": total, "max_bytes": args.max_bytes,
           "within_budget": within, "headroom_bytes": args.max_bytes - total}
    if args.json:
        print_json(out)
    else:
        print(f"{b['path']}: {b['codec']}, storage {b['storage']}, decompress {b['decompress_seconds']:.3f} s")
        print(f"{'group':<12}{'arrays':>8}{'values':>14}{'stored B':>14}{'compressed B':>15}")
        for g, v in b["groups"].items():
            print(f"{g:<12}{v['arrays']:>8}{v['values']:>14,}{v['stored_bytes']:>14,}{v['compressed_bytes']:>15,}")
        print(f"{'(sum)':<48}{b['sum_of_groups_compressed']:>15,}")
        print(f"model {b['model_bytes']:,} + code {code:,} ({method}) = {total:,} bytes of {args.max_bytes:,} "
              f"({'within' if within else 'OVER'}; headroom {args.max_bytes - total:,})")
    if not within:
        raise PgolfError(f"{args.artifact}: {total:,} bytes (model {b['model_bytes']:,} + code {code:,}) is over the "
                         f"cap of {args.max_bytes:,}")
    return 0


def register(sub) -> None:
    s = sub.add_parser("size", help="code + compressed model bytes against the decimal cap, by group")
    s.add_argument("artifact")
    s.add_argument("--code", help="count this file as the code (e.g. a bundled train_gpt.py)")
    s.add_argument("--code-bytes", type=int, help="count this many code bytes")
    s.add_argument("--max-bytes", type=int, default=16_000_000, help="the cap in decimal bytes")
    s.add_argument("--json", action="store_true")
    s.set_defaults(fn=cmd_size)
