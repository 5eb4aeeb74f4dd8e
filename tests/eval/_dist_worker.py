"""One rank of the 2-process gloo check (launched by test_eval_dist.py with torchrun's environment variables).

`compute(rt)` is also called in-process with a single-rank runtime, so both sides run the very same code.
Usage: python _dist_worker.py OUT_DIR   (RANK, WORLD_SIZE set by the test; rendezvous through a file in OUT_DIR)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
from _evalkit import lut, stream, tiny_model

from pgolf.config import LoRATTTConfig, PhasedTTTConfig, TTTConfig
from pgolf.eval.accounting import SidecarBytes
from pgolf.eval.run import evaluate, evaluate_ttt
from pgolf.eval.standard import trim_val
from pgolf.runtime.dist import Runtime, init_runtime, shutdown

T = 32


def compute(rt: Runtime) -> dict:
    torch.set_num_threads(1)
    model = tiny_model(seed=2)
    tokens = trim_val(stream(900, seed=21, docs=9), T)
    L = lut()
    out = {}
    for name, stride, doc in [("standard", 0, False), ("sliding", 8, False), ("doc_aware", 8, True)]:
        out[name] = evaluate(model, tokens, T, stride, 8 * T, L, rt, doc_aware=doc).to_dict()
    full = TTTConfig(chunk_tokens=128, epochs=2, lr=0.05, batch_seqs=4)
    lora = TTTConfig(chunk_tokens=8, epochs=2, optimizer="adam", lr=0.02, lora=LoRATTTConfig(rank=4, batch_docs=2))
    out["ttt_full"] = evaluate_ttt(model, tokens, T, 8, 8 * T, L, rt, full).result.to_dict()
    out["ttt_lora"] = evaluate_ttt(model, tokens, T, 8, 8 * T, L, rt, lora).result.to_dict()
    # phased: 9 documents in batches of 2 → the queue's first two batches hold 3 documents, so the one phase starts
    # after batch 1 on one rank and after round 0 on two; rows of the phase split evenly (2 per chunk, 1 per rank).
    # Rows of T (isolate_docs=False): with isolation a document straddling the two ranks' rows is cut at the rank
    # split, so the phase depends on the world size, as in the record (tests/eval/test_ttt_global.py covers it)
    phased = TTTConfig(chunk_tokens=8, epochs=1, optimizer="adam", lr=0.02, grad_clip=0.0,
                       lora=LoRATTTConfig(rank=4, batch_docs=2, targets=("attn.c_q", "attn.c_v", "attn", "mlp"),
                                          lm_head=True),
                       phased=PhasedTTTConfig(prefix_docs=3, num_phases=1, lr=0.05, chunk_tokens=2 * T, batch_seqs=2,
                                              fresh_a_for_partial_batch=False, isolate_docs=False))
    out["ttt_phased"] = evaluate_ttt(model, tokens, T, 8, 8 * T, L, rt, phased).result.to_dict()
    side = np.random.default_rng(3).integers(0, 10, tokens.size)  # a CaseOps byte sidecar (pgolf.eval.accounting)
    side[tokens == 1] = 0
    S = SidecarBytes(side, rt.device)
    out["sidecar_standard"] = evaluate(model, tokens, T, 0, 8 * T, S, rt).to_dict()
    out["sidecar_doc_aware"] = evaluate(model, tokens, T, 8, 8 * T, S, rt, doc_aware=True).to_dict()
    out["ttt_lora_sidecar"] = evaluate_ttt(model, tokens, T, 8, 8 * T, S, rt, lora).result.to_dict()
    return out


if __name__ == "__main__":
    # A file rendezvous instead of env:// — with env:// rank 0 would host the TCP store itself and a rank still
    # tearing down after rank 0 exited aborts; under torchrun the agent hosts it. init_runtime then joins this group.
    import os

    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{Path(sys.argv[1]) / 'rendezvous'}",
                            rank=int(os.environ["RANK"]), world_size=int(os.environ["WORLD_SIZE"]))
    rt = init_runtime("cpu")
    res = compute(rt)
    Path(sys.argv[1], f"rank{rt.rank}.json").write_text(json.dumps({"world": rt.world_size, **res}))
    shutdown(rt)
