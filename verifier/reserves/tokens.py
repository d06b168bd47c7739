"""The token registry: canonical contracts of major tokens on major networks (spec §11.4).

Owns reading the committed ``tokens.json`` (its sources are cited per entry) and judging one
chain asset against it. A symbol the registry lists for a network must be that contract,
and a contract the registry knows under another symbol may not be relabelled: otherwise an
exchange could list the USDT contract as ``USDC`` and count one balance as two assets. A
network the registry does not cover (a test chain) has no entry: reported, not failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from verifier.encoding import strictjson as sj
from verifier.errors import FormatError
from verifier.signatures import checksum_address

REGISTRY_FILE = Path(__file__).with_name("tokens.json")
REGISTRY_SCHEME = "por-token-registry"
REGISTRY_VERSION = 1

CANONICAL = "canonical"
NO_ENTRY = "no registry entry"
NOT_CANONICAL = "not canonical"


@dataclass(frozen=True)
class NetworkEntry:
    """One network of the registry: its native coin's symbols and its tokens by symbol."""

    key: str
    name: str
    native: tuple[str, ...]
    tokens: Mapping[str, str]

    def symbol_of(self, contract: str) -> str | None:
        """The symbol the registry gives ``contract`` on this network, if any."""
        return next((s for s, c in self.tokens.items() if c == contract), None)


@dataclass(frozen=True)
class Judgement:
    """How one chain asset stands against the registry.

    ``status`` is :data:`CANONICAL`, :data:`NO_ENTRY` or :data:`NOT_CANONICAL`; ``detail``
    says why in words a report can print.
    """

    status: str
    detail: str


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise FormatError(f"{where}: expected an object, found {type(value).__name__}")
    return value


def _parse(data: bytes, where: str) -> dict[str, NetworkEntry]:
    raw = sj.obj(sj.loads(data, where), where, {"scheme", "version", "about", "networks"})
    if (raw["scheme"], raw["version"]) != (REGISTRY_SCHEME, REGISTRY_VERSION):
        raise FormatError(f"{where}: not a {REGISTRY_SCHEME} version {REGISTRY_VERSION} file")
    networks = {}
    for key, value in _mapping(raw["networks"], f"{where}.networks").items():
        at = f"{where}.networks.{key}"
        entry = sj.obj(value, at, {"name", "native", "tokens"})
        kind = key.partition(":")[0]
        tokens = {}
        for symbol, token in _mapping(entry["tokens"], f"{at}.tokens").items():
            item = sj.obj(token, f"{at}.tokens.{symbol}", {"contract", "decimals", "source"})
            contract = sj.string(item["contract"], f"{at}.tokens.{symbol}.contract")
            if kind == "evm" and checksum_address(contract) != contract:
                raise FormatError(f"{at}.tokens.{symbol}: not in EIP-55 form")
            tokens[symbol] = contract
        if len(set(tokens.values())) != len(tokens):
            raise FormatError(f"{at}: a contract is listed under two symbols")
        networks[key] = NetworkEntry(
            key, sj.string(entry["name"], f"{at}.name"),
            tuple(sj.string(s, f"{at}.native") for s in sj.array(entry["native"], f"{at}.native")),
            tokens)
    return networks


@cache
def registry() -> Mapping[str, NetworkEntry]:
    """The committed registry, by ``"<kind>:<network>"``.

    Raises:
        FormatError: the committed file is unreadable or malformed (a packaging error).
    """
    try:
        data = REGISTRY_FILE.read_bytes()
    except OSError as e:  # pragma: no cover - shipped with the package
        raise FormatError(f"token registry {REGISTRY_FILE}: cannot be read: {e}") from e
    return _parse(data, "token registry")


def judge(kind: str, network: str, symbol: str, token: str | None,
          networks: Mapping[str, NetworkEntry] | None = None) -> Judgement:
    """Judge one chain asset ``symbol`` (native if ``token`` is None) on ``kind:network``.

    Raises:
        FormatError: the committed registry is malformed.
    """
    entry = (registry() if networks is None else networks).get(f"{kind}:{network}")
    if entry is None:
        return Judgement(NO_ENTRY, f"no registry entry for {kind} network {network}")
    if token is None:
        if symbol in entry.native:
            return Judgement(CANONICAL, f"the native coin of {entry.name}")
        return Judgement(NOT_CANONICAL, f"the native coin of {entry.name} is "
                         f"{'/'.join(entry.native)}, listed here as {symbol}")
    canonical = entry.tokens.get(symbol)
    known_as = entry.symbol_of(token)
    if canonical == token:
        return Judgement(CANONICAL, f"the canonical {symbol} contract of {entry.name}")
    if canonical is None and known_as is None:
        if symbol in entry.native:
            return Judgement(NOT_CANONICAL, f"{symbol} is the native coin of {entry.name}, "
                             f"not the contract {token}")
        return Judgement(NO_ENTRY, f"no registry entry for {symbol} or {token} on "
                         f"{entry.name}")
    parts = []
    if canonical is not None:
        parts.append(f"{symbol} on {entry.name} is {canonical}, not {token}")
    if known_as is not None:
        parts.append(f"{token} is {known_as} on {entry.name}")
    return Judgement(NOT_CANONICAL, "; ".join(parts))


def registry_summary() -> list[dict[str, Any]]:
    """The registry as plain data (for ``--json`` reports and documentation)."""
    return [{"network": e.key, "name": e.name, "native": list(e.native),
             "tokens": dict(e.tokens)} for e in registry().values()]


__all__ = ["CANONICAL", "NOT_CANONICAL", "NO_ENTRY", "Judgement", "NetworkEntry", "judge",
           "registry", "registry_summary"]
