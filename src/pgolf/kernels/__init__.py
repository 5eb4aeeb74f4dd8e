"""Optional fused paths, each with an eager twin and an equivalence test."""
