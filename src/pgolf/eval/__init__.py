"""Evaluation: exact bits-per-byte (bpb), window plans (plan), batched fixed-shape scoring (scorer), standard and
sliding/document-aware passes (standard, sliding, run), and legal score-first test-time training (score_first,
ttt: full model; lora + ttt_lora: per-document adapters)."""
