"""The node readers for the nodes a user names (``--rpc NAME=URL``), one per chain kind.

Shared by ``por-verify reserves``/``bundle`` and the exchange's ``por`` commands; the
readers themselves and their protocols are in :mod:`verifier.reserves.chains`, the
transport in :mod:`verifier.reserves.rpc`.
"""

from __future__ import annotations

from verifier.errors import FormatError
from verifier.reserves.chains import RpcBitcoinReader, RpcEvmReader, RpcSolanaReader
from verifier.reserves.endpoints import Endpoint
from verifier.reserves.model import Chain, ReservesFile
from verifier.reserves.rpc import JsonRpcClient
from verifier.reserves.verify import Reader


def reader_for(chain: Chain, endpoint: Endpoint, timeout: float) -> Reader:
    """The RPC reader of ``chain``'s kind over ``endpoint`` (credentials in a header only).

    Raises:
        NodeError: the URL is not http(s).
    """
    client = JsonRpcClient(endpoint.url, name=endpoint.name, timeout=timeout,
                           auth=endpoint.auth)
    if chain.kind == "evm":
        return RpcEvmReader(client)
    if chain.kind == "bitcoin":
        return RpcBitcoinReader(client)
    return RpcSolanaReader(client)


def build_readers(
    reserves: ReservesFile, endpoints: dict[str, Endpoint], timeout: float
) -> dict[str, Reader]:
    """One reader per chain of the file that has a node.

    Raises:
        FormatError: a node names a chain the file does not have.
        NodeError: a URL is not http(s).
    """
    readers: dict[str, Reader] = {}
    for name, endpoint in endpoints.items():
        chain = reserves.chain(name)
        if chain is None:
            known = [c.name for c in reserves.chains]
            raise FormatError(f"--rpc {name}=...: the file has no chain {name} (it has {known})")
        readers[name] = reader_for(chain, endpoint, timeout)
    return readers
