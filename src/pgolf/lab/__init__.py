"""The participant's lab: FLOPs and MFU, benchmarks, run reports and comparisons (issue 14)."""
