"""Value embeddings (model/features/value_embed.py): they reach only the layers of their layer set."""

from __future__ import annotations

from _modelkit import randomized, tokens, with_changes

from pgolf.model.gpt import GPT


def test_value_embedding_reaches_only_its_layers():
    cfg = with_changes({"model.value_embed": {"dim": 8, "layers": "1,3"}})
    model = randomized(GPT(cfg))
    seen = {}
    for i, b in enumerate(model.blocks):
        b.attn.register_forward_pre_hook(lambda m, args, i=i: seen.__setitem__(i, args[1] is not None))
    model.logits(tokens())
    assert seen == {0: False, 1: True, 2: False, 3: True}
