"""Recipes: one Python function per published submission (plus baseline, tiny and demo), in a registry.

A recipe returns a `Config`; a child derives from its parent with `override(parent(), {...})`, so the diff between
two recipes is their technique delta. Metadata (source PR, author, reported figures) travels with each entry.
`tiny(cfg)` shrinks any recipe to CPU size while keeping its techniques.
"""

from pgolf.recipes.registry import REGISTRY, Recipe, get_recipe, recipe, tiny

# Importing the modules registers their recipes.
from pgolf.recipes import baseline, demo, pr198, pr295, pr443, pr601, pr1473, pr1855, pr2135  # noqa: E402,F401  isort: skip

__all__ = ["REGISTRY", "Recipe", "get_recipe", "recipe", "tiny"]
