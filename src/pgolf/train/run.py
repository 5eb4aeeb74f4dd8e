"""A whole run: data → model → priming → training under the cap → pre-quant eval → artifact → round-trip eval →
summary.json. `val_bpb` in the summary is measured on the weights decoded from the artifact file (the headline)."""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import replace
from pathlib import Path

import torch

from pgolf.artifact.model_file import export_model, load_artifact
from pgolf.artifact.pack import write_atomic
from pgolf.config import Config, config_hash, to_dict, validate
from pgolf.data.shards import load_split
from pgolf.data.tokenizer import check_vocab, load_sentencepiece
from pgolf.data.tokenizer_id import tokenizer_record
from pgolf.data.train_loader import build_loader
from pgolf.errors import PgolfError
from pgolf.eval.accounting import describe, val_accounting
from pgolf.eval.batches import speed_line
from pgolf.eval.run import evaluate_config
from pgolf.eval.standard import trim_val
from pgolf.model.attention import describe_attention_kernel
from pgolf.model.features.recurrence import LoopSwitch
from pgolf.model.gpt import GPT
from pgolf.model.layers import apply_training_precision
from pgolf.optim.routing import describe_groups
from pgolf.quant.calibrate import calibrate
from pgolf.runtime.atomic_write import ensure_dir
from pgolf.runtime.dist import Runtime, init_runtime, peer_failure, shutdown
from pgolf.runtime.log import RunLogger, environment
from pgolf.train.averaging import apply_average, build_averager
from pgolf.train.checkpoint import Checkpointer, Resumable
from pgolf.train.distributed import setup_optimization
from pgolf.train.loop import Hooks, make_step_fn, train_loop
from pgolf.train.priming import prime, priming_shapes
from pgolf.train.progressive_context import ContextSchedule
from pgolf.train.qat import build_qat
from pgolf.train.shipped import code_bytes_for
from pgolf.train.status import failure_reason

ARTIFACT_NAME = "model.pga"


def build_model(cfg: Config, rt: Runtime) -> GPT:
    torch.manual_seed(cfg.train.seed)
    model = GPT(cfg.model).to(rt.device)
    if rt.is_cuda:
        apply_training_precision(model, cfg.quant.control_patterns)
    return model


def _reserve_calibration_time(cfg: Config, log) -> Config:
    """GPTQ on training data must finish inside the budget: train `quant.gptq.reserve_seconds` less."""
    g, t = cfg.quant.gptq, cfg.train
    if g is None or g.calibration != "train" or not g.reserve_seconds or t.max_wallclock_seconds <= 0:
        return cfg
    cap = max(t.max_wallclock_seconds - g.reserve_seconds, 0.0)
    log(f"gptq: training cap {t.max_wallclock_seconds:.1f} s − reserve {g.reserve_seconds:.1f} s = {cap:.1f} s")
    return replace(cfg, train=replace(t, max_wallclock_seconds=cap))


def run(cfg: Config, out_dir: Path, recipe: str = "custom", echo: bool = True, throughput=None) -> dict:
    """Train, export, score. After the config stage every failure leaves summary.json with status "failed" and the
    one-line reason, and train.log records it (pgolf.train.status)."""
    cfg = validate(cfg)
    out_dir = ensure_dir(Path(out_dir), "run directory")
    rt = init_runtime(cfg.train.device)
    log = RunLogger(out_dir, enabled=rt.is_main, echo=echo)
    failed = True
    try:
        summary = _run(cfg, out_dir, recipe, rt, log, throughput)
        failed = False
        return summary
    except BaseException as e:
        peer = peer_failure(e, rt)  # another rank went away: say so in one line rather than gloo's traceback
        if rt.is_main:
            _record_failure(out_dir, cfg, recipe, log, peer or e)
        if peer is not None:
            raise peer from None
        raise
    finally:
        log.close()
        shutdown(rt, failed=failed)


def _record_failure(out_dir: Path, cfg: Config, recipe: str, log, e: BaseException) -> None:
    reason = failure_reason(e)
    log.record(f"run failed: {reason}")
    if not isinstance(e, (PgolfError, KeyboardInterrupt)):  # a bug: its traceback goes to train.log
        log.record("".join(traceback.format_exception(type(e), e, e.__traceback__)).rstrip())
    try:  # the over-the-cap case already wrote its full summary, with this reason
        prior = json.loads((out_dir / "summary.json").read_text())
        if isinstance(prior, dict) and (prior.get("status"), prior.get("reason")) == ("failed", reason):
            return
    except (OSError, ValueError):
        pass
    summary = {"status": "failed", "reason": reason, "recipe": recipe, "config_hash": config_hash(cfg)}
    try:
        write_atomic(out_dir / "summary.json", json.dumps(summary, indent=2).encode())
    except PgolfError as w:  # e.g. the disk is full: the original error still propagates
        log.record(f"could not write summary.json: {w}")


def _run(cfg: Config, out_dir: Path, recipe: str, rt: Runtime, log, throughput=None) -> dict:
    t, e = cfg.train, cfg.eval
    if t.grad_accum % rt.world_size:
        raise PgolfError(f"train.grad_accum={t.grad_accum} must be divisible by the world size {rt.world_size}")
    accum = t.grad_accum // rt.world_size
    log(f"pgolf run | recipe {recipe} | config {config_hash(cfg)} | {rt.describe()}")
    env = environment()
    log("env " + " ".join(f"{k}={v}" for k, v in env.items()))
    if rt.is_main:
        write_atomic(out_dir / "config.json", json.dumps(to_dict(cfg), indent=2).encode())

    sp = load_sentencepiece(cfg.data.tokenizer)
    check_vocab(sp, cfg.model.vocab_size, cfg.data.tokenizer)
    T_eval = e.seq_len or t.seq_len
    val = trim_val(load_split(Path(cfg.data.path), "val", cfg.model.vocab_size), T_eval, e.max_tokens)
    lut = val_accounting(Path(cfg.data.path), sp, cfg.model.vocab_size, val, rt.device, cfg.data.tokenizer)
    log(describe(lut))
    loader = build_loader(cfg.data, cfg.model.vocab_size, cfg.train.seed, rt, bos_id=cfg.model.bos_id)
    log(f"data {cfg.data.path} | val {val.size - 1:,} targets at T={T_eval}"
        + (f" (prefix of {e.max_tokens:,})" if e.max_tokens else "") + f" | tokenizer {cfg.data.tokenizer} | "
        + loader.describe())

    model = build_model(cfg, rt)
    n_params = sum(p.numel() for p in model.parameters())
    runner = model
    if rt.is_cuda and t.compile:
        runner = torch.compile(model, dynamic=False, fullgraph=True)
    opt = setup_optimization(model, runner, cfg, rt)
    optimizers, ddp = opt.optimizers, opt.ddp
    qat = build_qat(model, t.qat, cfg.quant, cfg.model.num_layers) if t.qat is not None else None
    log(f"model {n_params:,} params | compile {'on' if runner is not model else 'off'} | "
        f"attention {describe_attention_kernel(cfg.model.attention_kernel, rt.is_cuda)} | "
        f"accum {accum}/rank | {t.batch_tokens:,} tokens/step | {opt.describe()} | "
        f"grad clip {cfg.optim.grad_clip_norm or 'off'} (global norm)")
    if throughput is not None:  # pgolf.model.flops.Throughput from `pgolf train`; the bundle has none (its bytes)
        log(throughput.header)
    if cfg.model.varlen is not None:  # which document-isolated attention path runs (features/varlen.py)
        log(model.resolve_varlen(rt.is_cuda))
    for line in describe_groups(opt.groups, cfg.optim, cfg.model.tie_embeddings):
        log(line)
    if qat is not None:
        log(qat.describe())

    context = ContextSchedule(t.progressive_context) if t.progressive_context is not None else None
    step_fn = make_step_fn(runner if ddp is None else model, ddp, optimizers, loader, cfg, rt, accum,
                           list(model.parameters()), grad_sync=opt.grad_sync, qat=qat, context=context)
    looping = LoopSwitch(model, cfg.model.recurrence.enable_at) if cfg.model.recurrence is not None else None
    if looping is not None:
        log(looping.describe())
    if context is not None:
        log(context.describe())
    t_prime = time.perf_counter()
    for seq, loop in priming_shapes(context, looping, model):  # every (length, loop) graph the run will use
        if context is not None:
            context.seq_len = seq
        if looping is not None:
            model.set_looping(loop)
        prime(t.warmup_steps, lambda i: step_fn(i, 1.0), model, optimizers, loader, log)
    if looping is not None:
        model.set_looping(looping.enable_at <= 0)
    if context is not None:
        context.seq_len = context.plan[0][1]
    if t.warmup_steps:
        log(f"priming done in {time.perf_counter() - t_prime:.1f} s (state restored)")
    averager = build_averager(model, t.ema, t.swa)
    if averager is not None:
        log(averager.describe())
    parts = Resumable(model, optimizers, loader, averager, qat, per_rank_optim=opt.sharded)
    hooks = Hooks(model=model, averager=averager, qat=qat, parts=parts, looping=looping, context=context,
                  flops_per_token=throughput.flops_per_token if throughput is not None else 0.0,
                  peak_flops=throughput.peak_flops * rt.world_size if throughput is not None else 0.0)
    if t.checkpoint is not None:
        hooks.checkpointer = Checkpointer(t.checkpoint, out_dir, rt, config_hash(cfg))
        resumed = hooks.checkpointer.load(parts)
        if resumed is not None:
            hooks.start_step, hooks.start_elapsed = resumed
            log(f"resumed from {hooks.checkpointer.latest()} at step {resumed[0]} ({resumed[1]:.1f} s counted)")

    def validate_at(step: int) -> None:
        r, _ = evaluate_config(model, val, e, T_eval, lut, rt, with_ttt=False)
        log(f"val step {step} | val_loss {r.val_loss:.4f} | val_bpb {r.val_bpb:.4f}")
        log.metrics(step=step, val_loss=r.val_loss, val_bpb=r.val_bpb)

    res = train_loop(step_fn, _reserve_calibration_time(cfg, log), rt, log, validate_at, hooks)
    log(f"training stopped by {res.stopped_by} after {res.steps} steps, {res.train_seconds:.1f} s")
    if throughput is not None and res.train_seconds > 0 and res.steps > 0:
        per_rank = res.steps * t.batch_tokens / res.train_seconds / rt.world_size
        log(throughput.summary(per_rank) + f" per rank, whole run ({rt.world_size} rank(s))")
    if looping is not None and not looping.finish():
        log("recurrence: training stopped before the looping switch; evaluating and exporting the looped graph "
            "anyway (the final graph, as #1855 does)")

    t_eval = time.perf_counter()
    last, averaged = None, False
    if averager is not None:
        last, _ = evaluate_config(model, val, e, T_eval, lut, rt, with_ttt=False)
        log(f"last weights val_loss {last.val_loss:.4f} | val_bpb {last.val_bpb:.4f} (before {averager.kind.upper()})")
        averaged = apply_average(model, averager)
        if averaged:
            log(f"{averager.kind.upper()} weights loaded")
        else:
            log(f"{averager.kind.upper()}: fewer than 2 snapshots, keeping the last weights")
    hessians = calibrate(model, cfg.quant.gptq, loader, rt.device, log, rt.autocast, batch_tokens=cfg.train.batch_tokens,
                         seq_len=cfg.train.seq_len, seed=cfg.train.seed)  # GPTQ only: on the final weights
    # the weights `last` was scored on are still the model's unless the average was loaded
    pre = last if last is not None and not averaged else evaluate_config(model, val, e, T_eval, lut, rt,
                                                                          with_ttt=False)[0]
    log(f"pre-quant val_loss {pre.val_loss:.4f} | val_bpb {pre.val_bpb:.4f}"
        + (f" (after {averager.kind.upper()})" if averager is not None else ""))
    path = out_dir / ARTIFACT_NAME
    info = {}
    code_bytes, code_method = code_bytes_for(cfg, recipe)  # the bundled train_gpt.py this run's config ships as
    if rt.is_main:
        info, _ = export_model(model, cfg.model, cfg.quant, cfg.artifact, path, hessians, code_bytes, log,
                               tokenizer=tokenizer_record(cfg.data.tokenizer))
        if "pergroup" in info:  # one codec per group (artifact/pergroup.py): name each group's pick
            pg = info["pergroup"]
            picks = ", ".join(f"{k} {g['layout']}+{g['codec']} {g['bytes']:,}" for k, g in pg["groups"].items())
            log(f"export | storage {info['storage']} | per-group: {picks} | codecs skipped: "
                f"{', '.join(pg['skipped']) or 'none'} | {info['encode_seconds']:.1f} s")
        else:
            log(f"export | storage {info['storage']} | codec sizes {info['codec_sizes']} | "
                f"{info['encode_seconds']:.1f} s")
    if rt.distributed:
        torch.distributed.barrier()
    _, state, rinfo = load_artifact(path)
    model.load_state_dict(state, strict=True)
    post, ttt_stats = evaluate_config(model, val, e, T_eval, lut, rt, control_patterns=cfg.quant.control_patterns)
    eval_seconds = time.perf_counter() - t_eval
    model_bytes = rinfo["file_bytes"]
    total = model_bytes + code_bytes
    within = total <= cfg.artifact.max_bytes
    log(f"artifact {path} | {rinfo['codec']} | model {model_bytes:,} + code {code_bytes:,} = {total:,} bytes "
        f"({'within' if within else 'OVER'} the {cfg.artifact.max_bytes:,} cap)")
    log(f"round-trip val_loss {post.val_loss:.4f} | val_bpb {post.val_bpb:.4f} | "
        f"{post.scored_tokens:,} tokens, {post.scored_bytes:,} bytes ({post.accounting})")
    if post.speed is not None:
        log(speed_line(post.speed) + (" (rank 0's share)" if rt.world_size > 1 else ""))
    if ttt_stats and "global_attention" in ttt_stats:
        log(f"phased TTT global phases | {ttt_stats['global_attention']}")
    summary = {
        "status": "ok" if within else "failed", "recipe": recipe, "val_bpb": post.val_bpb, "val_loss": post.val_loss,
        "val_bpb_prequant": pre.val_bpb,
        "val_loss_prequant": pre.val_loss, "val_bpb_last_weights": last.val_bpb if last is not None else None,
        "averaging": averager.kind if averager is not None else None, "scored_tokens": post.scored_tokens, "scored_bytes": post.scored_bytes,
        "bytes_accounting": post.accounting, "eval_partial": bool(e.max_tokens), "eval_seq_len": T_eval, "eval_stride": e.stride or T_eval,
        "eval_doc_aware": e.doc_aware, "eval_ttt": ttt_stats,
        "artifact_bytes": total, "model_bytes": model_bytes, "code_bytes": code_bytes,
        "code_bytes_method": code_method, "max_bytes": cfg.artifact.max_bytes, "within_budget": within,
        "codec": rinfo["codec"], "params": n_params, "steps": res.steps, "stopped_by": res.stopped_by,
        "train_seconds": res.train_seconds, "ms_per_step": 1000 * res.train_seconds / max(res.steps, 1),
        "eval_seconds": eval_seconds, "artifact_path": str(path), "world_size": rt.world_size,
        "device": env.get("gpu", "cpu"), "env": env, "config_hash": config_hash(cfg), "config": to_dict(cfg),
    }
    over = None if within else (f"{path}: artifact is {total:,} bytes, over the {cfg.artifact.max_bytes:,}-byte "
                                f"cap (model {model_bytes:,} + code {code_bytes:,}); summary.json records "
                                f"within_budget=false")
    if over is not None:
        summary["reason"] = over
    if rt.is_main:
        write_atomic(out_dir / "summary.json", json.dumps(summary, indent=2).encode())
    if over is not None:
        raise PgolfError(over)
    return summary
