"""Is side A better than side B? Per-seed scores, means, the delta, a one-sided Welch test and both verdicts.

The two acceptance rules in use (SPEC_FRONTIER.md §0):
- the README's: a new record beats the previous one by ≥ 0.005 nats (per token) and shows it at p < 0.01 — read
  literally, H1 is "the improvement exceeds 0.005 nats", so the test runs on the val_loss values with that margin;
- the maintainers' chronological-frontier rule (leaderboard PRs #1899/#1900/#1902/#2146): a one-sided Welch t-test
  on the seeds' val_bpb, p < 0.25 against the previous frontier row, no minimum size.

The p-value of the frontier rule is the one the leaderboard prints (e.g. "p=0.014 vs PR #2014"); it is computed with
the sample variance. The population-variance p (ddof=0) is printed beside it: several leaderboard rows were
computed that way (pgolf.lab.welch). Loss per seed: the val_loss read with it; a seed without one gets
val_bpb × (val_loss / val_bpb of a seed of the same side that has both — the ratio is ln 2 · bytes/token of the
side's val set, the same for all its seeds); a side where no seed has a val_loss leaves the nats figures and the
README verdict unknown.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from pgolf.lab.records_read import SeedScore
from pgolf.lab.welch import welch_less


@dataclass(frozen=True)
class StatsRules:
    readme_margin_nats: float = 0.005
    readme_alpha: float = 0.01
    frontier_alpha: float = 0.25


def _losses(rows: list[SeedScore]) -> tuple[list[float] | None, str]:
    if all(r.val_loss is not None for r in rows):
        return [r.val_loss for r in rows], "read"
    ref = next((r for r in rows if r.val_loss is not None and r.val_bpb), None)
    if ref is None:
        return None, "none"
    k = ref.val_loss / ref.val_bpb
    return [r.val_loss if r.val_loss is not None else r.val_bpb * k for r in rows], f"derived (seed {ref.seed} ratio)"


def _side(rows: list[SeedScore], label: str) -> dict:
    bpb = [r.val_bpb for r in rows]
    loss, how = _losses(rows)
    return {"label": label, "n": len(rows),
            "seeds": [{"seed": r.seed, "val_bpb": r.val_bpb, "val_loss": r.val_loss, "source": r.source}
                      for r in rows],
            "mean_bpb": statistics.fmean(bpb), "std_bpb": statistics.stdev(bpb) if len(bpb) > 1 else None,
            "mean_loss": statistics.fmean(loss) if loss else None,
            "std_loss": statistics.stdev(loss) if loss and len(loss) > 1 else None, "loss": how, "_loss": loss}


def compare(a: list[SeedScore], b: list[SeedScore], label_a: str = "A", label_b: str = "B",
            rules: StatsRules | None = None) -> dict:
    """The comparison as a JSON-able dict (what `pgolf stats --json` prints). delta = B − A (> 0: A is better)."""
    rules = rules or StatsRules()
    sa, sb = _side(a, label_a), _side(b, label_b)
    la, lb = sa.pop("_loss"), sb.pop("_loss")
    out = {"a": sa, "b": sb, "delta_bpb": sb["mean_bpb"] - sa["mean_bpb"],
           "delta_nats": sb["mean_loss"] - sa["mean_loss"] if la and lb else None,
           "rules": {"readme": f"≥ {rules.readme_margin_nats} nats at p < {rules.readme_alpha}",
                     "frontier": f"one-sided Welch on val_bpb, p < {rules.frontier_alpha}"}}
    if len(a) < 2 or len(b) < 2:
        why = f"a Welch test needs ≥ 2 seeds per side ({len(a)} vs {len(b)})"
        out.update(welch=None, readme={"verdict": "unknown", "why": why}, frontier={"verdict": "unknown", "why": why})
        return out
    w, w0 = welch_less([r.val_bpb for r in a], [r.val_bpb for r in b]), \
        welch_less([r.val_bpb for r in a], [r.val_bpb for r in b], ddof=0)
    out["welch"] = {"t": w.t, "df": w.df, "p": w.p, "p_population_variance": w0.p}
    out["frontier"] = {"verdict": "met" if w.p < rules.frontier_alpha else "not met", "p": w.p,
                       "why": f"p={w.p:.4f} {'<' if w.p < rules.frontier_alpha else '≥'} {rules.frontier_alpha}"}
    if not (la and lb):
        out["readme"] = {"verdict": "unknown", "why": "no val_loss (nats) on "
                         + " and ".join(s["label"] for s, x in ((sa, la), (sb, lb)) if not x)}
        return out
    wr = welch_less(la, lb, margin=rules.readme_margin_nats)
    met = wr.p < rules.readme_alpha
    out["readme"] = {"verdict": "met" if met else "not met", "p": wr.p, "t": wr.t, "df": wr.df,
                     "why": f"Δ {out['delta_nats']:+.5f} nats; p(Δ > {rules.readme_margin_nats}) = {wr.p:.4f} "
                            f"{'<' if met else '≥'} {rules.readme_alpha}"}
    return out


def _f(x, fmt: str) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, fmt)


def render(r: dict) -> str:
    lines = [f"{'side':<5}{'seed':>8}{'val_bpb':>13}{'val_loss':>13}  source"]
    for key in ("a", "b"):
        s = r[key]
        for x in s["seeds"]:
            lines.append(f"{key.upper():<5}{x['seed']:>8}{x['val_bpb']:>13.8f}{_f(x['val_loss'], '13.8f'):>13}  "
                         f"{x['source']}")
    for key in ("a", "b"):
        s = r[key]
        loss = f" | val_loss {_f(s['mean_loss'], '.6f')} ± {_f(s['std_loss'], '.6f')}" + (
            f" ({s['loss']})" if s["loss"] != "read" else "")
        lines.append(f"{key.upper()} = {s['label']}: {s['n']} seed(s) | val_bpb {s['mean_bpb']:.6f} ± "
                     f"{_f(s['std_bpb'], '.6f')}{loss}")
    lines.append(f"delta B − A: {r['delta_bpb']:+.6f} bpb | {_f(r['delta_nats'], '+.6f')} nats/token "
                 f"({'A lower' if r['delta_bpb'] > 0 else 'A not lower'})")
    if r["welch"] is not None:
        w = r["welch"]
        lines.append(f"Welch one-sided (H1: A < B, val_bpb): t {w['t']:.4f} | df {w['df']:.2f} | p {w['p']:.4f} "
                     f"(population-variance p {w['p_population_variance']:.4f})")
    lines.append(f"README rule ({r['rules']['readme']}): {r['readme']['verdict'].upper()} — {r['readme']['why']}")
    lines.append(f"frontier rule ({r['rules']['frontier']}): {r['frontier']['verdict'].upper()} — "
                 f"{r['frontier']['why']}")
    return "\n".join(lines)
