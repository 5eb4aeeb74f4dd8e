"""Data: the challenge's shard format, loaders, tokenizers and corpora."""
