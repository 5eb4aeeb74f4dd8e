"""Submission records folders (`pgolf export`): finished runs → train_gpt.py, README.md, submission.json.

Above train/ and artifact/ in the layering: it reads whole run configs (pgolf.config), the recipe registry and the
bundle builder, and nothing below imports it.
"""
