"""Post-training quantization: per-tensor policy and round-to-nearest quantizers."""
