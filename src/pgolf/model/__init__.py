"""The one GPT model: trunk, block, attention, MLP, and the technique features that plug into them."""

from pgolf.model.gpt import GPT, count_params

__all__ = ["GPT", "count_params"]
