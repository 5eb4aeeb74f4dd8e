"""PR #2135 (codemath3000): "PR #1797 base + n-gram tilt + AsymLogit + #2060 levers + NUM_PHASES=1 +
GPTQ_CALIBRATION_BATCHES=32", val_bpb 1.05650768 (3-seed mean; 314 / 42 / 0) — the accepted #1 after the May-1
leaderboard update (maintainer PR #2146; SPEC_FRONTIER.md §0, §7(b′)).

Source: openai/parameter-golf refs/pull/2135/head, records/track_10min_16mb/2026-05-01_SP8192_PR2130Base_Calib32
(submission.json; train_seed42.log's Hyperparameters are the run; `model_params:35945673`). Derived from pr1855; the
delta read from the two logs' Hyperparameters: AsymLogit (+2 params: softcap_pos/softcap_neg, TTT-only), MATRIX_LR
0.028, LQER_ASYM_GROUP 32, GPTQ_CALIBRATION_BATCHES 32, no int8 row quantization of the sparse gate
(GATED_ATTN_QUANT_GATE=0: attn_gate_w is an fp16 passthrough), SmearGate without the BOS fix (the code reads
SMEAR_GATE_BOS_FIX from the environment, default 0), eval/TTT context 2560 (ROPE_TRAIN_SEQ_LEN 2048, no YaRN: the
same RoPE base), TTT LoRA lr 8e−5, WD 2.0, no K-LoRA, one global phase, token-only n-gram tilt (TOKEN_ORDER 16,
TOKEN_THRESHOLD 0.8, TOKEN_BOOST 2.625; within-word and word-start experts off). Code counted 37,155 B (15,947,490
total − 15,910,335 model, seed 42); torch 2.11.0+cu130.

What pgolf expresses differently (besides pr1855's list):
* Evaluation: `pgolf.eval.ttt_phased.pr2135_ttt()` — pr1855's phased TTT with lr 8e−5, WD 2.0, no K adapter, one
  global phase of 2500 documents, and the token-only n-gram tilt (order 16, threshold 0.8, boost 2.625), at the
  2560 context; the AsymLogit caps are trained only by the global phase (eval/asym_logit.py).
* `MUON_HUBER_DELTA=0.1` is logged but inert (MUON_HUBER_WD=0); OPTROT and the within/word experts are off.
* Data: #2135 re-ran on the canonical HF CaseOps data (issue #2127: train_shards 80, val_tokens 47,851,520).
"""

from pgolf.config import Config, QuantRule, override
from pgolf.eval.ttt_phased import pr2135_ttt
from pgolf.recipes.pr1855 import pr1855
from pgolf.recipes.registry import recipe


@recipe("pr2135", "pr1855 + AsymLogit, LQER g32, 32 GPTQ batches, MATRIX_LR 0.028, 2560 TTT context (PR #2135)",
        parent="pr1855",
        source="openai/parameter-golf refs/pull/2135/head "
               "(records/track_10min_16mb/2026-05-01_SP8192_PR2130Base_Calib32)",
        author="codemath3000",
        reported={"pr": 2135, "val_bpb": 1.05650768, "val_loss": 2.31203043, "val_bpb_std": 0.00035573,
                  "val_bpb_seeds": {"314": 1.05662016, "42": 1.05610947, "0": 1.05679341},
                  "pre_quant_val_bpb_seeds": {"314": 1.06091124, "42": 1.06026908, "0": 1.06105556},
                  "quantized_val_bpb_seeds": {"314": 1.06921334, "42": 1.06867913, "0": 1.06939370},
                  "steps": 4993.67, "ms_per_step": 120.07, "artifact_bytes": 15_947_490,
                  "artifact_bytes_mean": 15_945_206, "code_bytes": 37_155, "params": 35_945_673,
                  "seeds": [314, 42, 0], "eval_time_s": [567.1, 540.1, 567.1], "hardware": "8xH100 80GB SXM",
                  "log": "train_seed42.log"})
def pr2135() -> Config:
    base = pr1855()
    return override(base, {
        "model.asym_logit": "on",
        "model.smear_gate.reset_at_bos": False,
        "optim.matrix_lr": 0.028,
        "quant.lqer.b_group": 32,
        "quant.gptq.batches": 32,
        "quant.rules": (QuantRule("*.attn_gate_w", "fp16"),),
        "eval.seq_len": 2560,
        "eval.ttt": pr2135_ttt(),
    })
