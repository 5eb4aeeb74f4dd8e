"""The artifact: exact, pickle-free serialization, codecs and byte accounting."""
