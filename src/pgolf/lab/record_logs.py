"""Facts from a public record's training log, read as text (a record's code is never imported or run).

The logs of openai/parameter-golf records (records/track_*/*/train*.log, train*.txt) come from many hand-edited
scripts, but the figures reviewers look at are printed in a few stable forms; each pattern below names the records
it was taken from:

- final score: the last line holding both `val_loss` and `val_bpb` after training stopped — `final_int8_zlib_
  roundtrip_exact val_loss:… val_bpb:…` (March baseline), `quantized_ttt_phased val_loss:… val_bpb:…` (#1855);
- train time: `stopping_early: wallclock_cap train_time: 599592ms` or the last `train_time:…ms` of a step line;
- GPTQ calibration on training data: `GPTQ:collected 67 Hessians in 4.7s` (#1394 onward), reading training batches
  after the training loop stopped (SPEC_FRONTIER §4.1); a log that says it calibrates on generated
  (autoregressive, #1019) or validation data does not count it as training time;
- eval time: `total_eval_time:508.8s` (#1530 onward) else the `eval_time:…ms` of the final score line, or of the
  timed line it repeats with more digits (`…_exact`, March); every post-training `eval_time` summed is the logged
  part of the end-to-end eval (§5.7);
- `val_tokens: 47851520` (#1394 onward) or `val_loader:… tokens:62021632` (March); `train_shards: 80` or
  `train_shards:25` (the `train_shards: 1499` fingerprint of issue #2127);
- bytes: `Serialized model <codec>: N bytes` (the compressed model), `Code size: N bytes` or
  `Code size (compressed): N bytes` (the counted wrapper, #1530 onward), `Total submission size <codec>: N bytes`;
- tokenizer: `tokenizer_path: …model` / `tokenizer_path=…model`.

pgolf's own train.log (the train_seed*.log of a `pgolf export` folder) is read too: `training stopped by … after N
steps, T s`, `model M + code C = N bytes` (C is the shipped bundle), `gptq calibration (train): … data X s + hooks
Y s`, `| val N targets at T=…`, `| tokenizer PATH.model`, and the `round-trip val_loss … | val_bpb …` score line.

Absent facts stay None: the checks that need them answer "unknown", never a guess.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

_NUM = r"([0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)"
_SCORE = re.compile(rf"val_loss[:=\s]+{_NUM}.*?val_bpb[:=\s]+{_NUM}")
_STOP = re.compile(r"stopping_early\b.*?train_time[:=\s]+([0-9.]+)\s*ms")
_TRAIN_MS = re.compile(r"train_time[:=\s]+([0-9.]+)\s*ms")
_HESSIANS = re.compile(r"collected\s+\d+\s+Hessians\s+in\s+([0-9.]+)\s*s", re.I)
_TOTAL_EVAL = re.compile(r"total_eval_time[:=\s]+([0-9.]+)\s*s\b")
_EVAL_MS = re.compile(r"eval_time[:=\s]+([0-9.]+)\s*ms")
_VAL_TOKENS = re.compile(r"^\s*val_tokens[:=\s]+([0-9]+)\s*$|val_loader:.*?\btokens:([0-9]+)")
_TRAIN_SHARDS = re.compile(r"\btrain_shards[:=\s]+([0-9]+)")
_MODEL = re.compile(r"Serialized model\s+([^:]+?):\s*([0-9]+)\s*bytes")
_CODE = re.compile(r"Code size(?:\s*\((compressed|uncompressed)\))?:\s*([0-9]+)\s*bytes")
_TOTAL = re.compile(r"Total submission size\s*([^:]*?):\s*([0-9]+)\s*bytes")
_TOKENIZER = re.compile(r"tokenizer(?:_path)?[:=\s]+(\S+\.model)")
# pgolf's own train.log (an export folder's train_seed*.log; pgolf.train.run)
_PG_STOP = re.compile(r"training stopped by \w+ after \d+ steps, ([0-9.]+) s")
_PG_BYTES = re.compile(r"model ([0-9,]+) \+ code ([0-9,]+) = ([0-9,]+) bytes")
_PG_CALIB = re.compile(r"gptq calibration \((\w+)\):.*?data ([0-9.]+) s \+ hooks ([0-9.]+) s")
_PG_VAL = re.compile(r"\| val ([0-9,]+) targets at T=")
_SEED = re.compile(r"^\s*seed[:=\s]+([0-9]+)\s*$", re.M)
_NOT_TRAIN_CALIB = re.compile(r"autoregressive|self-generated|selfgen|ar[_ -]?calib|calib\w*[:=\s]+val", re.I)


@dataclass
class LogFacts:
    """What one record log says (None = not printed)."""

    name: str
    final_bpb: float | None = None
    final_loss: float | None = None
    train_ms: float | None = None
    stopped_by_cap: bool = False
    hessian_s: float | None = None
    calib_on_train: bool = True  # False when the log says its calibration data is generated or validation text
    total_eval_s: float | None = None
    final_eval_s: float | None = None
    eval_parts_s: list[float] = field(default_factory=list)  # every eval_time after training stopped
    val_tokens: int | None = None
    train_shards: int | None = None
    model_bytes: int | None = None  # the compressed model
    model_codec: str | None = None
    code_bytes: int | None = None
    code_counted: str | None = None  # "compressed" when the log counts a self-extracting wrapper
    total_bytes: int | None = None
    tokenizer: str | None = None
    seed: str | None = None

    @property
    def eval_s(self) -> float | None:
        """The timed evaluation of the final score: total_eval_time if printed, else the final line's eval_time."""
        return self.total_eval_s if self.total_eval_s is not None else self.final_eval_s


def _timed_twin(timed: list[tuple[float, float, float]], loss: float, bpb: float) -> float | None:
    """The eval_time of the latest earlier line with the same score at 4 decimals: an `…_exact` line repeats its
    timed twin with more digits (`final_int8_zlib_roundtrip` → `final_int8_zlib_roundtrip_exact`)."""
    for lo, b, s in reversed(timed):
        if round(lo, 4) == round(loss, 4) and round(b, 4) == round(bpb, 4):
            return s
    return None


def parse_log(text: str, name: str = "log") -> LogFacts:
    f = LogFacts(name)
    seed = re.search(r"seed[_-]?(\d+)", Path(name).name)
    f.seed = seed.group(1) if seed else (m.group(1) if (m := _SEED.search(text)) else None)
    after_training = False
    timed: list[tuple[float, float, float]] = []  # (loss, bpb, eval s) of score lines that print an eval_time
    for line in text.splitlines():
        if (m := _STOP.search(line)) is not None:
            f.train_ms, f.stopped_by_cap, after_training = float(m.group(1)), True, True
            continue
        if not after_training and (m := _TRAIN_MS.search(line)) is not None and "step" in line:
            f.train_ms = float(m.group(1))
        if (m := _SCORE.search(line)) is not None and not re.match(r"\s*(step:)?\d+/\d+\s", line) \
                and not line.lstrip().startswith("step:"):
            after_training = True
            f.final_loss, f.final_bpb = float(m.group(1)), float(m.group(2))
            e = _EVAL_MS.search(line)
            f.final_eval_s = float(e.group(1)) / 1000 if e else _timed_twin(timed, f.final_loss, f.final_bpb)
            if e:
                f.eval_parts_s.append(float(e.group(1)) / 1000)
                timed.append((f.final_loss, f.final_bpb, float(e.group(1)) / 1000))
        if (m := _HESSIANS.search(line)) is not None:
            f.hessian_s = float(m.group(1))
        if _NOT_TRAIN_CALIB.search(line) and ("calib" in line.lower() or "gptq" in line.lower()):
            f.calib_on_train = False
        if (m := _TOTAL_EVAL.search(line)) is not None:
            f.total_eval_s = float(m.group(1))
        if (m := _VAL_TOKENS.search(line)) is not None:
            f.val_tokens = int(m.group(1) or m.group(2))
        if (m := _TRAIN_SHARDS.search(line)) is not None:
            f.train_shards = int(m.group(1))
        if (m := _MODEL.search(line)) is not None:
            f.model_codec, f.model_bytes = m.group(1).strip(), int(m.group(2))
        if (m := _CODE.search(line)) is not None and m.group(1) != "uncompressed":
            f.code_bytes, f.code_counted = int(m.group(2)), m.group(1) or "file"
        if (m := _TOTAL.search(line)) is not None and m.group(1).strip():
            f.total_bytes = int(m.group(2))
        if (m := _TOKENIZER.search(line)) is not None:
            f.tokenizer = m.group(1)
        if (m := _PG_STOP.search(line)) is not None:
            f.train_ms, after_training = float(m.group(1)) * 1000, True
        if (m := _PG_BYTES.search(line)) is not None:
            f.model_bytes, f.code_bytes, f.total_bytes = (int(g.replace(",", "")) for g in m.groups())
            f.model_codec, f.code_counted = "pgolf", "file"
        if (m := _PG_CALIB.search(line)) is not None:
            f.hessian_s, f.calib_on_train = float(m.group(2)) + float(m.group(3)), m.group(1) == "train"
        if (m := _PG_VAL.search(line)) is not None:
            f.val_tokens = int(m.group(1).replace(",", ""))
    return f


LOG_NAME = re.compile(r"(train|log|seed|run)", re.I)


def is_log_name(name: str) -> bool:
    """A training log by its name: *.log, or *.txt naming train/log/seed/run (not requirements.txt)."""
    n = name.lower()
    return n.endswith(".log") or (n.endswith(".txt") and bool(LOG_NAME.search(n)) and "requirements" not in n)
