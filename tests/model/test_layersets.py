"""Layer sets (model/layersets.py): the grammar, one-line refusals, rescaling to tiny depth, and bad sets in a config."""

from __future__ import annotations

import pytest

from pgolf.config import Config, override, validate
from pgolf.errors import PgolfError
from pgolf.model.layersets import parse_layers, rescale_layers


@pytest.mark.parametrize("spec,L,want", [
    ("all", 4, (0, 1, 2, 3)), ("last:4", 11, (7, 8, 9, 10)), ("last:11", 11, tuple(range(11))),
    ("first:2", 5, (0, 1)), ("9,10", 11, (9, 10)), (" 10, 9 ", 11, (9, 10)),
])
def test_parse_layers(spec, L, want):
    assert parse_layers(spec, L) == want


@pytest.mark.parametrize("spec", ["last:0", "last:12", "first:x", "9,11", "9,9", "", "-1", "every"])
def test_parse_layers_rejects_with_one_line(spec):
    with pytest.raises(PgolfError) as e:
        parse_layers(spec, 11, "model.xsa.layers")
    assert str(e.value).startswith("model.xsa.layers: ") and "\n" not in str(e.value)


@pytest.mark.parametrize("spec,want", [("9,10", "2,3"), ("0,1", "0,1"), ("0,10", "0,3"), ("last:4", "last:4"),
                                       ("last:11", "last:4"), ("first:2", "first:2"), ("all", "all")])
def test_rescale_layers_to_tiny_depth(spec, want):
    assert rescale_layers(spec, 11, 4) == want


def test_bad_layer_set_in_config_is_a_one_line_error():
    with pytest.raises(PgolfError, match=r"^model.value_embed.layers: indices must be in \[0, 8\]"):
        validate(override(Config(), {"model.value_embed.layers": "9,10"}))
    with pytest.raises(PgolfError, match="^model.rope_dims: "):
        validate(override(Config(), {"model.rope_dims": 6 + 1}))
