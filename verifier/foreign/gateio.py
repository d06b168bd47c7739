"""Gate.io zk user proofs (``user_config.json``: Arrangement, UniqueIdentification, ...).

Reproduces ``UserVerify`` of gateio/proof-of-reserves (service/verify_service/service.go,
utils/utils.go, utils/account_tree.go), a fork of Binance's first zkmerkle design:
leaf = Poseidon(UniqueIdentification, TotalAssetEquity, TotalAssetDebt, assets
commitment), the commitment over (Equity, Debt) of every one of AssetCounts assets, and
Poseidon of gatechain/gnark-crypto v0.7.1 (12 inputs a permutation, output cell 1).

Two layouts, by AssetCounts: ``gateio`` (800, from commit edd8fc8d, 2025-07) and
``gateio-350`` (350, the 2023-10 to 2025-06 proofs). Each layout's empty-tree root (in
Gate.io's proof table and verify_service) is reproduced by the tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from verifier.errors import FormatError
from verifier.foreign.parsing import Obj, load_json
from verifier.foreign.poseidon_bn254 import GATEIO_CHUNK, fork_hash
from verifier.foreign.report import SRC_DUMMY_USER, ForeignReport, Weakness
from verifier.foreign.zkmerkle import (
    account_index,
    base_report,
    equity_debt_commitment,
    field_hex,
    record_path,
    siblings,
    total,
    uint,
)

Layout = Literal["gateio", "gateio-350"]
FORMATS: tuple[Layout, ...] = ("gateio", "gateio-350")
ASSET_COUNTS: dict[Layout, int] = {"gateio": 800, "gateio-350": 350}
RULES: dict[Layout, str] = {
    "gateio": "gateio/proof-of-reserves @87db18df (AssetCounts 800 since edd8fc8d, 2025-07), "
    "service/verify_service/service.go UserVerify; Poseidon of gatechain/gnark-crypto v0.7.1",
    "gateio-350": "gateio/proof-of-reserves @7490ef5d (AssetCounts 350, 2023-10 to 2025-06), "
    "service/verify_service/service.go UserVerify; Poseidon of gatechain/gnark-crypto v0.7.1",
}
_TOP = (
    "Arrangement",
    "UniqueIdentification",
    "TotalAssetEquity",
    "TotalAssetDebt",
    "AssetDetails",
    "TreeRootHash",
    "MerkleProofEncode",
)


@dataclass(frozen=True)
class Proof:
    """A parsed Gate.io user proof."""

    layout: Layout
    index: int
    id_hash: int
    equity: int
    debt: int
    assets: dict[int, tuple[int, int]]  # asset index -> (Equity, Debt)
    root: int
    path: tuple[int, ...]


def parse(data: bytes, where: str = "proof", layout: Layout = "gateio") -> Proof:
    """Parse a Gate.io ``user_config.json`` in ``layout``.

    Raises:
        FormatError: not JSON, a missing, unknown or malformed field (named in the message).
    """
    top = Obj(load_json(data, where), where)
    top.only(_TOP)
    slots = ASSET_COUNTS[layout]
    assets: dict[int, tuple[int, int]] = {}
    for i, item in enumerate(top.array("AssetDetails")):
        a = Obj(item, f"{top.at('AssetDetails')}[{i}]")
        a.only(("Index", "Equity", "Debt"))
        index = uint(a, "Index", 16)
        if index >= slots:
            raise FormatError(
                f"{a.at('Index')}: {index} is outside 0..{slots - 1} ({layout} has {slots} "
                "assets; Gate.io's tool panics here)"
            )
        if index in assets:
            raise FormatError(
                f"{a.at('Index')}: asset {index} appears twice (Gate.io's tool keeps the last, "
                "leaving the other unbound)"
            )
        assets[index] = (uint(a, "Equity", 64), uint(a, "Debt", 64))
    return Proof(
        layout=layout,
        index=account_index(top, "Arrangement"),
        id_hash=field_hex(top.get("UniqueIdentification"), top.at("UniqueIdentification")),
        equity=total(top, "TotalAssetEquity"),
        debt=total(top, "TotalAssetDebt"),
        assets=assets,
        root=field_hex(top.get("TreeRootHash"), top.at("TreeRootHash")),
        path=siblings(top, "MerkleProofEncode"),
    )


def leaf_of(proof: Proof) -> int:
    """The account leaf hash of ``proof``."""
    commitment = equity_debt_commitment(proof.assets, ASSET_COUNTS[proof.layout], GATEIO_CHUNK)
    return fork_hash([proof.id_hash, proof.equity, proof.debt, commitment], GATEIO_CHUNK)


def nil_leaf(layout: Layout) -> int:
    """The empty-account leaf of ``layout`` (NilAccountHash in utils/account_tree.go)."""
    commitment = equity_debt_commitment({}, ASSET_COUNTS[layout], GATEIO_CHUNK)
    return fork_hash([0, 0, 0, commitment], GATEIO_CHUNK)


def verify(proof: Proof) -> ForeignReport:
    """Recompute the leaf and the path of ``proof`` and report.

    Returns:
        the report; call :meth:`ForeignReport.raise_for_failures` to turn a failure into an error.
    """
    report = base_report(proof.layout, "Gate.io", RULES[proof.layout])
    report.user_balances = {
        "TotalAssetEquity": str(proof.equity),
        "TotalAssetDebt": str(proof.debt),
    }
    for index in sorted(proof.assets):
        equity, debt = proof.assets[index]
        report.user_balances[f"asset {index} Equity"] = str(equity)
        report.user_balances[f"asset {index} Debt"] = str(debt)
    leaf = leaf_of(proof)
    record_path(
        report,
        leaf,
        proof.index,
        proof.path,
        proof.root,
        nil_leaf=nil_leaf(proof.layout),
        chunk=GATEIO_CHUNK,
    )
    report.check(
        "equity covers debt",
        proof.debt <= proof.equity,
        f"TotalAssetDebt {proof.debt} {'<=' if proof.debt <= proof.equity else '>'} "
        f"TotalAssetEquity {proof.equity}",
        kind="warning",
    )
    report.notes.append(
        f"{proof.layout}: AssetCounts {ASSET_COUNTS[proof.layout]}; the file does not say which "
        "layout made it (gateio for proofs from 2025-07, gateio-350 before)"
    )
    if not report.ok:
        other: Layout = "gateio-350" if proof.layout == "gateio" else "gateio"
        if all(i < ASSET_COUNTS[other] for i in proof.assets):
            report.notes.append(
                f"if this proof was published {'before' if other == 'gateio-350' else 'after'} "
                f"2025-07, check it as FORMAT {other}"
            )
    report.weaknesses.append(
        Weakness(
            "no collateral in the leaf",
            "Gate.io's leaf has Equity and Debt only, the design Binance replaced in 2024 "
            "because it admits the dummy user attack; the order of AssetDetails is not bound "
            "(assets are placed by Index).",
            SRC_DUMMY_USER + "; gateio/proof-of-reserves utils/account_tree.go (the "
            "(Equity, Debt) leaf)",
        )
    )
    return report
