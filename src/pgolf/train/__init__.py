"""Training: the loop, the wallclock budget, compile priming, and the end-to-end run."""
