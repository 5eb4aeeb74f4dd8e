"""Control tensors: the one list of the small parameters that stay in float and train with the scalar optimizer.

The seeds call them CONTROL_TENSOR_NAME_PATTERNS (SPEC_SEEDS.md §1.7): a parameter whose name contains one of the
patterns is a per-channel gain, mix or gate — kept fp32 in training (pgolf.model.layers.apply_training_precision),
routed to scalar Adam (pgolf.optim.routing), passed through in float at export (pgolf.quant.tables), adapted by
`eval.ttt.params=control` (pgolf.eval.ttt), and counted as "control" by the size report (pgolf.artifact.size).
Every one of those reads its list from here (or, for precision and TTT, from the run's `quant.control_patterns`,
whose default is CONTROL_PATTERNS) — the lists differ by design, as the seeds' did, and each difference is named.
"""

from __future__ import annotations

# The baseline's nine names (openai/parameter-golf train_gpt.py), shared by every seed.
SEED_BASE = ("attn_scale", "attn_scales", "mlp_scale", "mlp_scales", "resid_mix", "resid_mixes", "q_gain",
             "skip_weight", "skip_weights")
# The sparse attention gate's W (#1787/#1855): scalar Adam in training; int8 absmax at export (quant.tables).
GATE = ("attn_gate_w",)
# The two-lane residual's λs (#1855, pgolf.model.features.parallel_residual): scalar Adam.
PARALLEL = ("parallel_post_lambdas", "parallel_resid_lambdas")
# The σ-gated U-Net skips' gates (#1855, pgolf.model.features.skip_gates): scalar Adam, float at export.
SKIP_GATES = ("skip_gates",)
# The default `quant.control_patterns` (training precision, the baseline export table, TTT params=control).
CONTROL_PATTERNS = SEED_BASE + SKIP_GATES + GATE
# The routing table's control rule (pgolf.optim.routing): every control name any model of this package has.
ROUTING_CONTROLS = SEED_BASE + SKIP_GATES + PARALLEL + GATE
# The seeds' export tables' fp32 controls (#198 … #1473 `CONTROL_TENSOR_NAME_PATTERNS` as their code sets it).
SEED_EXPORT_CONTROLS = SEED_BASE + ("smear", "bigram.scale", "backout_lambda", "vr_lambda", "ve_layer_scales",
                                    "ve_shared.scale")
# The size report's substrings (pgolf.artifact.size): coarser — "lambda" and "gate" catch every λ and gate.
REPORT_CONTROLS = ("attn_scale", "mlp_scale", "resid_mix", "q_gain", "skip_weight", "smear", "bigram.scale",
                   "backout", "vr_lambda", "ve_layer_scales", "ve_shared.scale", "lambda", "gate")
