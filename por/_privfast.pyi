"""Types of the optional C accelerator built from por/_native/privfast.c.

See por.liabilities.private (``_native``, ``_native_subtree``).
"""

from typing_extensions import Buffer

def init(context: int, generator_parse: int, generator_serialize: int, pedersen_commit: int,
         pedersen_commitment_serialize: int, ec_pubkey_parse: int, ec_pubkey_combine: int,
         ec_pubkey_serialize: int, /) -> None: ...
def build_subtree(secret: Buffer, split_prefix: Buffer, leaf_tag: Buffer, node_tag: Buffer,
                  generators: Buffer, exponents: Buffer, index: int, height: int,
                  leaves: Buffer, root_blindings: Buffer, /) -> tuple[bytes, bytes] | None: ...
