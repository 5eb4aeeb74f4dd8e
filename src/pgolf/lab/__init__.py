"""The participant's lab (issue 14): FLOPs and MFU, benchmarks, run reports and comparisons, seed statistics.

Layering: lab sits beside the commands, above train (bench builds the training step) and artifact/optim (reports
read sizes and recompute schedules); nothing below imports it. The FLOPs count lives in pgolf.model.flops and the
device peaks in pgolf.runtime.devices, so the training log uses them without reaching up.
"""
