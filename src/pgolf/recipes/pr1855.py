"""PR #1855 (codemath3000): "11L XSA + LQER + SparseAttnGate + SmearGate (BOS-fixed) + PolarNS Muon + 9-hparam
stack", val_bpb 1.06107587 (3-seed mean; 42 / 0 / 1234), the #1 row of the README at main 4908dc46f.

Source: openai/parameter-golf main, records/track_10min_16mb/2026-04-27_SP8192_LQER_SparseGate_BOSSmearFix_9HpStack_1.0611
(submission.json, train_seed{42,0,1234}.log: the logged Hyperparameters are the run). SPEC_FRONTIER.md §7(a).
Derived from pr1473 (its frontier ancestor in pgolf); the delta: CaseOps SP8192 data (vocab 8192), no BigramHash, no
value embeddings, no QAT, MLP 4×, QK gain 5.0, partial RoPE 16 at base 1e4 (ROPE_TRAIN_SEQ_LEN = 2048, no NTK
change), depth recurrence 3..5 ×2 from 35 %, two-lane parallel decoder from layer 8, σ-gated U-Net skips,
BOS-masked gated SmearGate (window 12), SparseAttnGate (window 12, scale 0.5), packed document loader, Polar Express
NS5 + MuonEq-R, momentum 0.92→0.97 over 1500, Muon WD 0.095, matrix LR 0.026, tied-embedding LR 0.03 (WD 0.085),
scalars LR 0.02 (Adam WD 0.02), Adam β (0.9, 0.99), clip 0.3, warmdown over the last 85 % of the wallclock with
MIN_LR 0.1, EMA 0.9965, GPTQ on 16 training batches (embedding too) with a 0.5 s reserve, SDClip table pr1855,
LQER rank 4 top 3 (INT2 A / INT4 g64 B), 35,945,671 params.

What pgolf expresses differently (the figures are the record's, not a pgolf run):
* Parameter banks (qo/kv/mlp_up/mlp_down) are per-layer CastedLinear names here (benchmarks/parity_seeds.py maps
  them); the parallel lanes' scalars are allocated for every layer (11×2×2 + 11×2) as the record does
  (`model.parallel_residual.all_layers`), so the parameter count is exact, though rows 0..7 never get a gradient.
* Fused Triton MLP and fused softcapped CE (training only; same maths) are not in pgolf: the eager path runs.
* VarLen FA3 attention over the packed loader's cu_seqlens: `model.varlen` (FA3 varlen on CUDA when importable,
  the exact masked path otherwise; which one runs is logged). Buckets of 64 as the record.
* Compression: the record's per-group lrzip+brotli (COMPRESSOR=pergroup) is `artifact.pergroup` (each group's best
  layout × codec; lrzip only where its binary is installed, reported otherwise); the rest is brotli-11 over zigzag_t.
* Evaluation: phased score-first LoRA TTT, `pgolf.eval.ttt_phased.pr1855_ttt()` (rank 80, α 144, warm-start A,
  Adam β (0, 0.99) eps 1e−10, WD 0.5, lr 1e−4, 48-token chunks, LM-head adapter, 3 global SGD phases at
  833/1666/2500 documents). The global phase isolates documents as the record does (GLOBAL_TTT_RESPECT_DOC_BOUNDARIES
  =1: a step's rows as one flat row with cu_seqlens at BOS, segments ≤ T; eval.ttt.phased.isolate_docs);
  benchmarks/parity_ttt.py shows |Δbpb| 3.6e-8 against the record's own TTT functions (5.2e-8 with --rows).
* CaseOps byte-sidecar scoring comes from the caseops engineer (data side); data.path names the CaseOps shards.
* The GPTQ reserve (0.5 s) and the wallclock schedule are as logged; hardware-dependent (SPEC_FRONTIER §4.1).
"""

from pgolf.config import Config, override
from pgolf.eval.ttt_phased import pr1855_ttt
from pgolf.recipes.pr1473 import pr1473
from pgolf.recipes.registry import recipe

CONTROLS_1855 = ("attn_scale", "mlp_scale", "resid_mix", "q_gain", "skip_weights", "skip_gates",
                 "parallel_post_lambdas", "parallel_resid_lambdas", "attn_gate_w", "smear", "softcap_")


@recipe("pr1855", "11L CaseOps SP8192, loop 3-5, parallel lanes, gated skips/smear, sparse gate, LQER (PR #1855)",
        parent="pr1473",
        source="openai/parameter-golf main "
               "(records/track_10min_16mb/2026-04-27_SP8192_LQER_SparseGate_BOSSmearFix_9HpStack_1.0611)",
        author="codemath3000",
        reported={"pr": 1855, "val_bpb": 1.06107587, "val_loss": 2.32202732, "val_bpb_std": 0.00090,
                  "val_bpb_seeds": {"42": 1.05989454, "0": 1.06124613, "1234": 1.06208695},
                  "steps": 4931.33, "ms_per_step": 121.7, "artifact_bytes": 15_907_550,
                  "artifact_bytes_mean": 15_901_919, "code_bytes": 31_999, "code_bytes_raw": 157_868,
                  "params": 35_945_671, "seeds": [42, 0, 1234], "eval_time_s": [508.8, 455.1, 470.0],
                  "hardware": "8xH100 80GB SXM", "log": "train_seed42.log"})
def pr1855() -> Config:
    return override(pr1473(), {
        "data.path": "data/datasets/fineweb10B_sp8192_caseops",
        "data.tokenizer": "data/tokenizers/fineweb_8192_bpe_lossless_caps_caseops_v1_reserved.model",
        "data.loader": "packed",
        "model.vocab_size": 8192, "model.num_layers": 11, "model.model_dim": 512, "model.num_heads": 8,
        "model.num_kv_heads": 4, "model.mlp_mult": 4.0, "model.qk_gain_init": 5.0, "model.rope_base": 10000.0,
        "model.rope_dims": 16, "model.ln_scale": True, "model.logit_softcap": 30.0, "model.tied_embed_init_std": 0.005,
        "model.bigram_hash": None, "model.value_embed": None, "model.xsa.layers": "all",
        "model.smear_gate": {"kind": "gated", "window": 12, "reset_at_bos": True},
        "model.attn_gate": {"kind": "sparse", "window": 12, "scale": 0.5},
        "model.recurrence": {"loop_start": 3, "loop_end": 5, "num_loops": 2, "enable_at": 0.35},
        "model.parallel_residual": {"start_layer": 8, "all_layers": True},
        "model.skip_gates": "on",
        "model.varlen": "on",
        "model.init.ortho.proj_scale": True,
        "optim.matrix_lr": 0.026, "optim.tied_embed_lr": 0.03, "optim.scalar_lr": 0.02,
        "optim.muon_momentum": 0.97, "optim.muon_momentum_warmup_start": 0.92,
        "optim.muon_momentum_warmup_steps": 1500, "optim.muon_ns_steps": 5, "optim.muon_ns": "polar_express",
        "optim.muon_row_norm": "before_ns", "optim.muon_wd": 0.095, "optim.adam_betas": (0.9, 0.99),
        "optim.adam_eps": 1e-8, "optim.adam_wd": 0.02, "optim.embed_wd": 0.085, "optim.grad_clip_norm": 0.3,
        "schedule.warmdown_mode": "fraction", "schedule.warmdown_frac": 0.85, "schedule.min_lr": 0.1,
        "train.seq_len": 2048, "train.batch_tokens": 786_432, "train.iterations": 20000, "train.warmup_steps": 20,
        "train.max_wallclock_seconds": 600.0, "train.val_every": 0, "train.log_every": 500, "train.qat": None,
        "train.ema": {"decay": 0.9965},
        "eval.seq_len": 2048, "eval.stride": 0, "eval.doc_aware": True,
        "eval.ttt": pr1855_ttt(),
        "quant.policy": "pr1855", "quant.selective_prune": None,
        "quant.control_patterns": CONTROLS_1855,
        "quant.gptq": {"calibration": "train", "batches": 16, "batch_tokens": 0, "reserve_seconds": 0.5,
                       "block_size": 128, "damp": 0.01, "act_order": True, "embeddings": True},
        "quant.lqer": {"rank": 4, "top_k": 3, "a_bits": 2, "b_bits": 4, "b_group": 64},
        "artifact.codec": "brotli", "artifact.level": 11, "artifact.storage": "zigzag_t", "artifact.pergroup": "on",
        "artifact.code_minify": "pyminify", "artifact.code_codec": "brotli",  # the record's code: pyminify+brotli+b85
    })
