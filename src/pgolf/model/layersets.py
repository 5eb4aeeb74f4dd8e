"""Layer sets, parsed in one place: which blocks a per-layer technique (XSA, value embeddings, …) acts on.

Grammar (`spec` strings in the config tree):
  "all"           every layer
  "last:K"        the last K layers (the seeds' `XSA_LAST_N=K`, `XSA_LAYERS=K`)
  "first:K"       the first K layers
  "9,10"          explicit 0-based indices (the seeds' `VE_LAYERS`)

`rescale_layers` maps a spec written for one depth to another (the `tiny` transform): "all" stays "all"; counts in
"last:K"/"first:K" are clamped to the new depth; an explicit index keeps its distance from the nearer end of the
stack (indices in the upper half count from the top), so #1473's "9,10" of 11 layers becomes "2,3" of 4 — "the last
two layers" in both cases — and duplicates collapse.
"""

from __future__ import annotations

from pgolf.errors import PgolfError


def parse_layers(spec: str, num_layers: int, key: str = "layers") -> tuple[int, ...]:
    """→ sorted 0-based layer indices; a bad spec raises a one-line PgolfError naming `key`."""
    s = spec.strip().lower()

    def bad(why: str) -> PgolfError:
        return PgolfError(f"{key}: {why} (got {spec!r}; expected 'all', 'last:K', 'first:K' or '9,10')")

    if s == "all":
        return tuple(range(num_layers))
    if s.startswith(("last:", "first:")):
        head, _, count = s.partition(":")
        try:
            k = int(count)
        except ValueError:
            raise bad("K must be an integer") from None
        if not 1 <= k <= num_layers:
            raise bad(f"K must be in [1, {num_layers}] for {num_layers} layers")
        return tuple(range(num_layers - k, num_layers)) if head == "last" else tuple(range(k))
    try:
        idx = [int(p) for p in s.split(",") if p.strip()]
    except ValueError:
        raise bad("indices must be integers") from None
    if not idx:
        raise bad("empty layer set")
    if len(set(idx)) != len(idx):
        raise bad("duplicate layer index")
    if any(not 0 <= i < num_layers for i in idx):
        raise bad(f"indices must be in [0, {num_layers - 1}]")
    return tuple(sorted(idx))


def rescale_layers(spec: str, from_layers: int, to_layers: int) -> str:
    """The same set at another depth (see the module docstring); validates `spec` at `from_layers` first."""
    layers = parse_layers(spec, from_layers)
    s = spec.strip().lower()
    if s == "all":
        return "all"
    if s.startswith(("last:", "first:")):
        head, _, _ = s.partition(":")
        return f"{head}:{min(len(layers), to_layers)}"
    return ",".join(str(i) for i in sorted({rescale_index(i, from_layers, to_layers) for i in layers}))


def rescale_index(i: int, from_layers: int, to_layers: int) -> int:
    """Keep the distance from the nearer end of the stack (upper half counts from the top), clamped into range."""
    j = to_layers - (from_layers - i) if 2 * i >= from_layers else i
    return min(max(j, 0), to_layers - 1)
