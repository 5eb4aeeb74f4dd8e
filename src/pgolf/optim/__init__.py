"""Optimizers: Muon (Newton–Schulz orthogonalised momentum), parameter routing, and schedules."""
