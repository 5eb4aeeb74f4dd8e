"""The config package's contract (pgolf.config: override, coerce, from_dict/to_dict, parse_overrides, validate):
typed coercion from annotations, unknown keys with a suggestion, one-line bad values, optional blocks on/off, the
dict round trip, cross-field validation."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from pgolf.config import Config, coerce, from_dict, override, parse_overrides, to_dict, validate
from pgolf.errors import PgolfError


def test_override_coerces_from_annotations():
    cfg = override(Config(), {"model.num_layers": "11", "model.mlp_mult": "3", "model.tie_embeddings": "false",
                              "train.batch_tokens": "786_432", "optim.adam_betas": "0.8,0.99",
                              "quant.control_patterns": "a,b", "train.max_wallclock_seconds": 0})
    assert cfg.model.num_layers == 11 and isinstance(cfg.model.num_layers, int)
    assert cfg.model.mlp_mult == 3.0 and isinstance(cfg.model.mlp_mult, float)
    assert cfg.model.tie_embeddings is False
    assert cfg.train.batch_tokens == 786_432
    assert cfg.optim.adam_betas == (0.8, 0.99)
    assert cfg.quant.control_patterns == ("a", "b")
    assert cfg.train.max_wallclock_seconds == 0.0
    assert Config().model.num_layers == 9  # frozen original untouched


def test_unknown_key_suggests():
    with pytest.raises(PgolfError) as e:
        override(Config(), {"model.num_layerz": 3})
    assert str(e.value) == "model.num_layerz: unknown key — did you mean model.num_layers?"
    with pytest.raises(PgolfError, match="unknown key"):
        override(Config(), {"nothing.like.this": 1})
    with pytest.raises(PgolfError, match="unknown key"):
        override(Config(), {"model.num_layers.x": 1})


@pytest.mark.parametrize("key,value,expect", [
    ("train.iterations", "abc", "train.iterations: expected int, got 'abc'"),
    ("train.iterations", 2.5, "train.iterations: expected int, got 2.5"),
    ("train.iterations", True, "train.iterations: expected int, got True"),
    ("model.tie_embeddings", "maybe", "model.tie_embeddings: expected bool, got 'maybe'"),
    ("train.device", "tpu", "train.device: expected one of 'auto', 'cpu', 'cuda', got 'tpu'"),
    ("optim.adam_betas", "0.9", "optim.adam_betas: expected comma-separated float, float, got"),
])
def test_bad_values_name_field_and_type(key, value, expect):
    with pytest.raises(PgolfError) as e:
        override(Config(), {key: value})
    assert str(e.value).startswith(expect)
    assert "\n" not in str(e.value)


@dataclass(frozen=True)
class _Block:
    size: int = 4
    name: str = "x"


@dataclass(frozen=True)
class _Tree:
    feature: _Block | None = None
    other: _Block = field(default_factory=_Block)


def test_optional_blocks_switch_on_and_off():
    t = override(_Tree(), {"feature.size": "8"})
    assert t.feature == _Block(size=8)
    assert override(t, {"feature": "none"}).feature is None
    assert override(_Tree(), {"feature": "on"}).feature == _Block()
    assert coerce({"size": 2}, _Block | None, "feature") == _Block(size=2)


@dataclass(frozen=True)
class _Skewed:
    """A parent whose default block is not its class's default: the delta must be relative to the class."""
    block: _Block = field(default_factory=lambda: _Block(size=9))
    feature: _Block | None = None


@pytest.mark.parametrize("cfg", [
    _Skewed(), _Skewed(block=_Block()), _Skewed(block=_Block(size=9, name="y")), _Skewed(feature=_Block()),
    _Skewed(feature=_Block(size=3)), _Tree(), _Tree(other=_Block(name="z"), feature=_Block(name="z"))])
def test_delta_rebuilds_the_config(cfg):
    from pgolf.coerce import to_delta

    delta = to_delta(cfg)
    assert from_dict(type(cfg), delta) == cfg
    assert delta == {} if cfg == type(cfg)() else delta != {}
    if cfg == _Skewed(block=_Block()):
        assert delta == {"block": {}}  # the class's defaults, which differ from the parent's
    if cfg == _Skewed(block=_Block(size=9, name="y")):
        assert delta == {"block": {"size": 9, "name": "y"}}


def test_delta_of_every_recipe_rebuilds_it():
    from pgolf.coerce import to_delta
    from pgolf.recipes import REGISTRY, tiny

    assert to_delta(Config()) == {}
    for name, r in REGISTRY.items():
        for cfg in (r.build(), tiny(r.build())):
            assert from_dict(Config, to_delta(cfg)) == cfg, name


def test_dict_round_trip_and_parse():
    cfg = override(Config(), {"model.num_layers": 11, "optim.adam_betas": (0.9, 0.99)})
    assert from_dict(Config, to_dict(cfg)) == cfg
    with pytest.raises(PgolfError, match="unknown key"):
        from_dict(Config, {"model": {"bogus": 1}})
    assert parse_overrides(["a.b=1", "c=x=y"]) == {"a.b": "1", "c": "x=y"}
    with pytest.raises(PgolfError, match="expected key=value"):
        parse_overrides(["novalue"])


def test_validate_cross_field():
    with pytest.raises(PgolfError, match="model.num_kv_heads"):
        validate(override(Config(), {"model.num_kv_heads": 3}))
    with pytest.raises(PgolfError, match="train.batch_tokens"):
        validate(override(Config(), {"train.batch_tokens": 1000}))
    assert validate(Config()) == Config()
