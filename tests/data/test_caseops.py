"""CaseOps transform: hand-checked examples, a naive encoder written here, adversarial round trips, byte counts."""

from __future__ import annotations

import random

import pytest

from pgolf.data.caseops import ALLCAPS, CAPNEXT, ESC, TITLE, CaseOpsError, decode, encode, original_bytes

T, A, C, E = TITLE, ALLCAPS, CAPNEXT, ESC

ADVERSARIAL = [
    "", " ", "   \n\t  ", "\n", "a", "A", "AB", "Ab", "aB", "ABc", "aBC", "McDonald", "iPhone", "NASA launch",
    "The NASA Launch", "x2Y", "ABC123def", "abc123DEF4g", "Ünïcödé ÉCOLE École", "straße STRASSE", "ǅ ǈ Ǆ ß ẞ",
    "ＡＢＣ ｆｕｌｌ", "ﬁne ligature", T, A, C, E, E + E, T + "a", "a" + C, E + "A", "A" + E + "B", "I",
    "\x00\x01\u200b\ufeff", "日本語テキスト 😀 Emoji", "e\u0301 combining", "ALL-CAPS_AND snake_Case", "O'Neil's",
    "x" * 1000 + "Y" * 1000, "\ue000\ue005 neighbours of the operators", "tab\tSep\r\nCRLF",
]


def naive_encode(text: str) -> str:
    """Character by character, from the rules of #1729 (independent of pgolf's regex form)."""
    out, i = [], 0
    while i < len(text):
        ch = text[i]
        if ch in (T, A, C, E):
            out += [E, ch]
            i += 1
            continue
        if not ("a" <= ch <= "z" or "A" <= ch <= "Z"):
            out.append(ch)
            i += 1
            continue
        j = i
        while j < len(text) and ("a" <= text[j] <= "z" or "A" <= text[j] <= "Z"):
            j += 1
        word = text[i:j]
        ups = [c.isupper() for c in word]
        if not any(ups):
            out.append(word)
        elif all(ups) and len(word) >= 2:
            out += [A, word.lower()]
        elif ups[0] and not any(ups[1:]):
            out += [T, word.lower()]
        else:
            if ups[0]:
                out.append(T)
            out.append(word[0].lower())
            for c, up in zip(word[1:], ups[1:]):
                out += [C, c.lower()] if up else [c]
        i = j
    return "".join(out)


def test_examples_by_hand():
    assert encode("The NASA Launch") == f"{T}the {A}nasa {T}launch"
    assert encode("McDonald iPhone") == f"{T}mc{C}donald i{C}phone"
    assert encode("A a") == f"{T}a a"
    assert encode("ABc") == f"{T}a{C}bc"
    assert encode("x2Y") == f"x2{T}y"  # digits end a letter run
    assert encode(f"a{T}b{E}") == f"a{E}{T}b{E}{E}"
    assert encode("École") == "École"  # non-ASCII letters pass through and end a run ("cole" is lowercase)
    assert encode("ÉCOLE") == f"É{A}cole"


@pytest.mark.parametrize("text", ADVERSARIAL)
def test_round_trip_and_naive_agreement(text):
    enc = encode(text)
    assert enc == naive_encode(text)
    assert decode(enc) == text
    assert int(original_bytes(enc).sum()) == len(text.encode("utf-8"))


def test_random_round_trips():
    rng = random.Random(0)
    alphabet = "aAbBzZ09 _-.\n\tÉé日😀" + T + A + C + E
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 24)))
        enc = encode(text)
        assert enc == naive_encode(text)
        assert decode(enc) == text
        assert int(original_bytes(enc).sum()) == len(text.encode("utf-8"))


def test_original_bytes_per_character():
    enc = encode(f"Hé {E}X")  # a single capital is TitleCase
    assert enc == f"{T}hé {E}{E}{T}x"
    assert original_bytes(enc).tolist() == [0, 1, 2, 1, 0, 3, 0, 1]


@pytest.mark.parametrize("bad", [T, A, C, E, T + " ", C + C + "a", "a" + T + "b", T + A + "a", E + T + T,
                                 A + "1", T + E + T])
def test_decode_rejects_malformed(bad):
    with pytest.raises(CaseOpsError):
        decode(bad)
