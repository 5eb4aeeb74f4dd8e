"""Evaluation: exact bits-per-byte, standard and sliding-window passes."""
