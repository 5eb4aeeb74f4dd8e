"""CaseOps: the lossless case transform of the CaseOps SP8192 data (PR #1729 romeerp; SPEC_FRONTIER.md §1.2).

The idea: a tokenizer should not spend separate pieces on "the", "The" and "THE". Before tokenizer training and
before tokenization, case is moved out of the letters into four operator characters, so every case variant of a
word shares the lowercase pieces. Over each *maximal run of ASCII letters* [A-Za-z]:
* all lowercase → unchanged;                               "launch"   → "launch"
* ALLCAPS, length ≥ 2 → ALLCAPS + lowercase;               "NASA"     → ALLCAPS "nasa"
* TitleCase (first upper, rest lower) → TITLE + lowercase; "Launch"   → TITLE "launch"  ("A" → TITLE "a")
* any other mix → TITLE if the first letter is upper, then CAPNEXT before each later capital;
                                                            "McDonald" → TITLE "mc" CAPNEXT "donald"
* a literal operator character anywhere → ESC + the character. Nothing else changes (digits, non-ASCII letters,
  whitespace, punctuation pass through).

Operators are the private-use characters TITLE U+E001, ALLCAPS U+E002, CAPNEXT U+E003, ESC U+E004; a CaseOps
tokenizer reserves them as SentencePiece user-defined symbols at ids 4–7 (pgolf.data.caseops_tokenizer).

Invariants (tested): decode(encode(x)) == x for every string; encode is byte-identical to #1729's
`encode_lossless_caps_v2` (benchmarks/caseops_reference.py runs both over the proxy val documents); decode rejects
malformed input (a dangling or misplaced operator) with CaseOpsError. `original_bytes(t)` gives, per character of a
transformed string, the UTF-8 bytes it stands for in the original text: 0 for an operator (ESC included), the
UTF-8 length of any other character (an escaped operator stands for itself, 3 bytes); its sum over encode(x) is
len(x.encode("utf-8")). That is what the byte sidecar of pgolf.data.sidecar accumulates per token.
"""

from __future__ import annotations

import re

import numpy as np

from pgolf.errors import PgolfError

TITLE, ALLCAPS, CAPNEXT, ESC = "\ue001", "\ue002", "\ue003", "\ue004"
OPERATORS = (TITLE, ALLCAPS, CAPNEXT, ESC)
OPERATOR_IDS = (4, 5, 6, 7)  # right after pad/bos/eos/unk = 0..3
_OPS = frozenset(OPERATORS)
_TOKEN = re.compile("[A-Za-z]+|[\ue001-\ue004]")


class CaseOpsError(PgolfError):
    """A string that is not the output of `encode` (decode's only failure)."""


def is_caseops_tokenizer(sp) -> bool:
    """True when any operator is a piece of a SentencePiece vocabulary (wherever it sits; ids are checked by
    pgolf.data.caseops_tokenizer.check_caseops_tokenizer)."""
    return any(sp.piece_to_id(op) != sp.unk_id() for op in OPERATORS)


def _word(w: str) -> str:
    if w.islower():
        return w
    low = w.lower()
    if len(w) >= 2 and w.isupper():
        return ALLCAPS + low
    if w[0].isupper() and (len(w) == 1 or w[1:].islower()):
        return TITLE + low
    out = [TITLE + low[0] if w[0].isupper() else low[0]]
    out += [CAPNEXT + lc if c.isupper() else lc for c, lc in zip(w[1:], low[1:])]
    return "".join(out)


def encode(text: str) -> str:
    """The CaseOps transform of `text` (see the module docstring)."""
    return _TOKEN.sub(lambda m: ESC + m[0] if m[0] in _OPS else _word(m[0]), text)


def _is_letter(c: str) -> bool:
    return "a" <= c <= "z" or "A" <= c <= "Z"


def decode(text: str) -> str:
    """The inverse of `encode`; CaseOpsError on a string `encode` cannot produce."""
    out: list[str] = []
    mode = None  # TITLE / ALLCAPS waiting for the first letter of a word
    capnext = escaped = in_word = allcaps = False
    for i, c in enumerate(text):
        if escaped:
            if mode is not None:
                raise CaseOpsError(f"caseops: escaped character at {i} where a word must start")
            out.append(c)
            escaped, in_word = False, _is_letter(c)
            allcaps = allcaps and in_word
            continue
        if c == ESC:
            escaped = True
        elif c in (TITLE, ALLCAPS):
            if mode is not None or in_word or capnext:
                raise CaseOpsError(f"caseops: misplaced word operator U+{ord(c):04X} at {i}")
            mode = c
        elif c == CAPNEXT:
            if capnext:
                raise CaseOpsError(f"caseops: repeated CAPNEXT at {i}")
            capnext = True
        elif _is_letter(c):
            if not in_word:
                allcaps = mode == ALLCAPS
                out.append(c.upper() if mode is not None or capnext else c)
                in_word = True
            else:
                if mode is not None:
                    raise CaseOpsError(f"caseops: word operator inside a word at {i}")
                out.append(c.upper() if allcaps or capnext else c)
            mode, capnext = None, False
        else:
            if mode is not None or capnext:
                raise CaseOpsError(f"caseops: operator not followed by an ASCII letter at {i}")
            out.append(c)
            in_word = allcaps = False
    if escaped or mode is not None or capnext:
        raise CaseOpsError("caseops: dangling operator at the end of the text")
    return "".join(out)


def original_bytes(text: str) -> np.ndarray:
    """Per character of a transformed string: the original UTF-8 bytes it stands for (int64; see the docstring)."""
    cp = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    n = 1 + (cp >= 0x80).astype(np.int64) + (cp >= 0x800) + (cp >= 0x10000)
    esc_at = -2  # index of the last ESC that escapes the next character
    for i in np.flatnonzero((cp >= 0xE001) & (cp <= 0xE004)).tolist():
        if i == esc_at + 1:  # the escaped literal: it stands for itself
            esc_at = -2
            continue
        n[i] = 0
        esc_at = i if cp[i] == 0xE004 else -2
    return n
