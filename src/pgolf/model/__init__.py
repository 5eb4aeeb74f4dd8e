"""The one GPT model: trunk (gpt.py), block, attention, MLP, the model's config block (config.py) and the technique
features that plug into them (features/). Import what you need from its module, e.g. `from pgolf.model.gpt import GPT`.
"""
