"""Byte-level encodings every format shares: the strict JSON reader and canonical bytes."""
