"""`pgolf stats` on the record pairs the leaderboard publishes a p-value for: ours beside theirs.

Usage: python benchmarks/stats_records.py [--mirror /work/.mirror/openai+parameter-golf/repo]

The published figures are the leaderboard README rows of the maintainers' branch codex/update-leaderboard-20260502
(leaderboard PR #2146; "(p=0.014 vs PR #2014)"); each side is a records folder copied out of the mirror at the commit
that holds the seeds the row describes (main, a PR head, or for #1945 "V21 v2" commit 70067534 named by the row).
Prints, per pair: the seeds on each side, our one-sided Welch p with the sample variance and with the population
variance, the published p, and which of ours agrees with it within 0.001 (one unit of its last printed decimal).
Last, #1855 against the three 8-s-reserve rerun logs in #1868's folder (the row says "vs PR #1868 latest rerun").
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from records_mirror import DEFAULT_MIRROR, extract  # noqa: E402

from pgolf.lab.records_read import read_side  # noqa: E402
from pgolf.lab.stats import compare  # noqa: E402

R = "records/track_10min_16mb/"
# (row, published p, candidate (ref, folder), baseline (ref, folder))
PAIRS = [
    ("#1514 vs #1493", 0.020, ("main", R + "2026-04-09_A2_Muon097_3Seed"),
     ("main", R + "2026-04-09_SP8192_3LayerRecur_ParResid_QK525_LegalTTT")),
    ("#1529 vs #1514", 0.001, ("refs/pull/1529/head", R + "2026-04-11_ImprovedParallelResiduals_CUTLASS_EVT"),
     ("main", R + "2026-04-09_A2_Muon097_3Seed")),
    ("#1769 vs #1736", 0.063, ("main", R + "2026-04-22_SP8192_CaseOps_GatedAttn_QuantGate_Loop45_PhasedTTT_MLPClip12"),
     ("main", R + "2026-04-19_SP8192_CaseOps_GatedAttn_QuantGate_Loop45_PhasedTTT")),
    ("#1855 vs #1868", 0.188, ("main", R + "2026-04-27_SP8192_LQER_SparseGate_BOSSmearFix_9HpStack_1.0611"),
     ("main", R + "2026-04-29_SmearGateBOSFix_3Seed_1.06141")),
    ("#1945 V21 v2 vs #1855", 0.034, ("7006753424886886bc27a17f839f6afd01962a08", R + "2026-04-30_V19_PR1908_AsymLogit_WD2"),
     ("main", R + "2026-04-27_SP8192_LQER_SparseGate_BOSSmearFix_9HpStack_1.0611")),
    ("#1953 vs #1945 V21 v2", 0.063, ("refs/pull/1953/head", R + "2026-04-30_LongCtx_NoQV_QK525_on_1945_1.0586"),
     ("7006753424886886bc27a17f839f6afd01962a08", R + "2026-04-30_V19_PR1908_AsymLogit_WD2")),
    ("#2014 vs #1953", 0.011, ("refs/pull/2014/head", R + "2026-04-30_SP8192_CaseOps_Progressive3k_ShortDocTTT"),
     ("refs/pull/1953/head", R + "2026-04-30_LongCtx_NoQV_QK525_on_1945_1.0586")),
    ("#2135 vs #2014", 0.014, ("refs/pull/2135/head", R + "2026-05-01_SP8192_PR2130Base_Calib32"),
     ("refs/pull/2014/head", R + "2026-04-30_SP8192_CaseOps_Progressive3k_ShortDocTTT")),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mirror", type=Path, default=DEFAULT_MIRROR)
    args = ap.parse_args()
    print(f"{'leaderboard row':<24}{'seeds A':>16}{'seeds B':>16}{'p (s²)':>9}{'p (σ²)':>9}{'published':>11}  match"
          f"   README rule / frontier rule")
    with tempfile.TemporaryDirectory() as tmp:
        for i, (row, published, (ra, fa), (rb, fb)) in enumerate(PAIRS):
            a = extract(args.mirror, ra, fa, Path(tmp) / f"{i}a")
            b = extract(args.mirror, rb, fb, Path(tmp) / f"{i}b")
            r = compare(read_side(a), read_side(b))
            p, p0 = r["welch"]["p"], r["welch"]["p_population_variance"]
            match = [name for name, x in (("s²", p), ("σ²", p0)) if abs(x - published) < 0.001]
            seeds = lambda s: "/".join(x["seed"] for x in s["seeds"])  # noqa: E731
            print(f"{row:<24}{seeds(r['a']):>16}{seeds(r['b']):>16}{p:>9.4f}{p0:>9.4f}{published:>11.3f}  "
                  f"{','.join(match) or 'no':<6}{r['readme']['verdict']:>9} / {r['frontier']['verdict']}")
        a, b = Path(tmp) / "3a" / PAIRS[3][2][1], Path(tmp) / "3b" / PAIRS[3][3][1]
        reruns = [row for log in sorted(b.glob("train_seed*_rerun_gptq8s.log")) for row in read_side(log)]
        r = compare(read_side(a), reruns)
        print(f"{'#1855 vs #1868 reruns':<24}{'':>16}{'/'.join(x.seed for x in reruns):>16}{r['welch']['p']:>9.4f}"
              f"{r['welch']['p_population_variance']:>9.4f}{0.188:>11.3f}")


if __name__ == "__main__":
    main()
