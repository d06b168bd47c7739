"""Types of the optional C accelerator built from por/_native/fasthash.c.

See por.liabilities.buckets.
"""

from typing_extensions import Buffer

def hash_records(prefix: Buffer, data: Buffer, width: int, /) -> bytes: ...
def commitments(secret: Buffer, salt_prefix: Buffer, user_prefix: Buffer, data: Buffer,
                offsets: Buffer, /) -> bytes: ...
def pad_commitments(secret: Buffer, prefix: Buffer, start: int, stop: int, /) -> bytes: ...
