"""One technique per module: its config dataclass, its maths, its source (see each docstring)."""
