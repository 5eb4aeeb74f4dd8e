"""Submission records folders (`pgolf export`): finished runs → train_gpt.py, README.md, submission.json.

Above train/ and artifact/ in the layering: it reads whole run configs (pgolf.config), the recipe registry and the
bundle builder, and nothing below imports it.
"""

# The challenge's two tracks (records/track_<track>/); here, torch-free, so `pgolf export`'s parser needs no import.
TRACKS = ("10min_16mb", "non_record_16mb")
