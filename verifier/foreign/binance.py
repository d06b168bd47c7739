"""Binance zkmerkle user proofs (``user_config.json``: AccountIndex, AccountIdHash, ... Proof).

Reproduces ``go run main.go -user`` of binance/zkmerkle-proof-of-solvency
(src/verifier/main.go, src/utils/utils.go, src/utils/account_tree.go) in two layouts:

* ``binance`` (from commit 5d26d4f, 2024-09, to 9a3e5b79): leaf = Poseidon(AccountIdHash,
  TotalEquity, TotalDebt, TotalCollateral, assets commitment); each asset is six u64
  (Index, Equity, Debt, Loan, Margin, PortfolioMargin), padded to a tier of 50 or 500
  assets; Poseidon of bnb-chain/gnark-crypto @609ab3a7 (16 inputs a permutation, cell 1).
* ``binance-v1`` (2d35593, 2023-04, to 5d26d4f): leaf = Poseidon(AccountIdHash,
  TotalEquity, TotalDebt, assets commitment); (Equity, Debt) of all 350 assets;
  bnb-chain/gnark-crypto @30223a67 (16 inputs a permutation, cell 1).

* ``binance-350x5``: the layout of the sample published beside the 2024 code
  (src/verifier/config/user_config.json, changed in 5d26d4f). No published commit has it;
  it was recovered from the sample itself: the 5-input leaf, but the assets commitment over
  (Equity, Debt, Loan, Margin, PortfolioMargin) of every one of 350 assets (no Index, no
  tiers), and 12 inputs a permutation. The sample's empty subtrees are this layout's.

The empty-tree roots published in main.go for ``binance`` and ``binance-v1`` are
reproduced by the tests: they pin the Poseidon build and the empty leaf of each layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from verifier.errors import FormatError
from verifier.foreign.parsing import Obj, load_json
from verifier.foreign.poseidon_bn254 import BINANCE_CHUNK, fork_hash
from verifier.foreign.report import SRC_OURS, ForeignReport, Weakness
from verifier.foreign.zkmerkle import (
    account_index,
    base_report,
    commitment,
    empty_run,
    empty_subtree,
    equity_debt_commitment,
    field_hex,
    pack3,
    record_path,
    siblings,
    total,
    uint,
)

Layout = Literal["binance", "binance-v1", "binance-350x5"]
FORMATS: tuple[Layout, ...] = ("binance", "binance-v1", "binance-350x5")
RULES: dict[Layout, str] = {
    "binance": "binance/zkmerkle-proof-of-solvency @9a3e5b79 (layout of 5d26d4f, 2024-09), "
    "src/verifier/main.go -user; Poseidon of bnb-chain/gnark-crypto @609ab3a7",
    "binance-v1": "binance/zkmerkle-proof-of-solvency @2d35593 (2023-04 to 2024-09 layout), "
    "src/verifier/main.go -user; Poseidon of bnb-chain/gnark-crypto @30223a67",
    "binance-350x5": "the layout of binance/zkmerkle-proof-of-solvency's sample user_config.json "
    "(@5d26d4f), recovered from the sample: no published code computes it; main.go -user of "
    "5d26d4f with 350 dense assets of 5 amounts and 12 inputs a Poseidon permutation",
}
CHUNKS: dict[Layout, int] = {
    "binance": BINANCE_CHUNK,
    "binance-v1": BINANCE_CHUNK,
    "binance-350x5": 12,
}
# BatchCreateUserOpsCountsTiers keys: a user's assets are padded to the first tier that fits.
ASSET_TIERS = (50, 500)
V1_ASSET_COUNT = 350  # AssetCounts before 5d26d4f
_FIELDS = {
    "binance-350x5": ("Index", "Equity", "Debt", "Loan", "Margin", "PortfolioMargin"),
    "binance": ("Index", "Equity", "Debt", "Loan", "Margin", "PortfolioMargin"),
    "binance-v1": ("Index", "Equity", "Debt"),
}
_TOTALS = {
    "binance-350x5": ("TotalEquity", "TotalDebt", "TotalCollateral"),
    "binance": ("TotalEquity", "TotalDebt", "TotalCollateral"),
    "binance-v1": ("TotalEquity", "TotalDebt"),
}


@dataclass(frozen=True)
class Asset:
    """One asset of the user: its index in the exchange's asset list and its u64 amounts."""

    index: int
    amounts: tuple[int, ...]  # Equity, Debt[, Loan, Margin, PortfolioMargin]


@dataclass(frozen=True)
class Proof:
    """A parsed Binance user proof."""

    layout: Layout
    index: int
    id_hash: int
    totals: tuple[int, ...]
    assets: tuple[Asset, ...]
    root: int
    path: tuple[int, ...]



# What Binance's own tree builder does with its input (src/utils/utils.go
# ReadUserDataFromCsvFile and ConvertFloatStrToUint64 @9a3e5b7): not visible in any proof
# file, so every report of the current layouts states it.
BUILDER_WEAKNESSES = (
    Weakness(
        "accounts can be dropped from the tree",
        "the builder skips every account row that fails to parse, has collateral above "
        "equity, or has debt above its haircut collateral, and prints only a count: those "
        "accounts' equity and debt leave the totals, and no published file says how many.",
        "binance/zkmerkle-proof-of-solvency src/utils/utils.go ReadUserDataFromCsvFile "
        "@9a3e5b7 (invalidCounts)",
    ),
    Weakness(
        "balances truncated to the asset's unit",
        "amounts are scaled by 10^8 (10^2 for some assets) and cut toward zero: digits "
        "beyond the unit are dropped without an error, so a balance can be stated below the "
        "user's own.",
        "binance/zkmerkle-proof-of-solvency src/utils/utils.go ConvertFloatStrToUint64 "
        "@9a3e5b7 (decimal.BigInt truncates)",
    ),
)

def parse(data: bytes, where: str = "proof", layout: Layout = "binance") -> Proof:
    """Parse a Binance ``user_config.json`` in ``layout``.

    Raises:
        FormatError: not JSON, a missing, unknown or malformed field (named in the message).
    """
    top = Obj(load_json(data, where), where)
    totals_keys = _TOTALS[layout]
    top.only(("AccountIndex", "AccountIdHash", *totals_keys, "Assets", "Root", "Proof"))
    assets: list[Asset] = []
    for i, item in enumerate(top.array("Assets")):
        a = Obj(item, f"{top.at('Assets')}[{i}]")
        a.only(_FIELDS[layout])
        index = uint(a, "Index", 16)
        if assets and index <= assets[-1].index:
            raise FormatError(
                f"{a.at('Index')}: {index} after {assets[-1].index}; asset indices must be "
                "strictly ascending (the exchange's padding assumes it; a repeated index "
                "would leave one entry unbound)"
            )
        if layout != "binance" and index >= V1_ASSET_COUNT:
            raise FormatError(f"{a.at('Index')}: {index} is outside 0..{V1_ASSET_COUNT - 1}")
        assets.append(Asset(index, tuple(uint(a, f, 64) for f in _FIELDS[layout][1:])))
    if layout == "binance" and len(assets) > ASSET_TIERS[-1]:
        raise FormatError(f"{top.at('Assets')}: {len(assets)} assets, at most {ASSET_TIERS[-1]}")
    return Proof(
        layout=layout,
        index=account_index(top, "AccountIndex"),
        id_hash=field_hex(top.get("AccountIdHash"), top.at("AccountIdHash")),
        totals=tuple(total(top, k) for k in totals_keys),
        assets=tuple(assets),
        root=field_hex(top.get("Root"), top.at("Root")),
        path=siblings(top, "Proof"),
    )


def tier_of(count: int) -> int:
    """The padded asset count for a user with ``count`` assets (GetAssetsCountOfUser)."""
    return next(t for t in ASSET_TIERS if count <= t)


def padded_assets(assets: tuple[Asset, ...]) -> list[int]:
    """The flattened, padded asset vector of the current layout (PaddingAccountAssets).

    Six u64 per slot, ``tier`` slots. Missing indices below a held asset are filled as
    empty slots (index only) while padding remains; the remaining slots after the last
    held asset take the following indices.
    """
    tier = tier_of(len(assets))
    flat = [0] * (6 * tier)
    padding = tier - len(assets)
    used = 0
    slot = 0
    next_index = 0
    for asset in assets:
        gap = next_index
        while used < padding and gap < asset.index:
            flat[6 * slot] = gap
            slot += 1
            used += 1
            gap += 1
        flat[6 * slot] = asset.index
        flat[6 * slot + 1 : 6 * slot + 6] = asset.amounts
        slot += 1
        next_index = asset.index + 1
    while slot < tier:
        flat[6 * slot] = next_index
        slot += 1
        next_index += 1
    return flat


def dense_assets(assets: tuple[Asset, ...], slots: int) -> list[int]:
    """Every one of ``slots`` assets in index order, its five amounts (zeros if not held)."""
    flat = [0] * (5 * slots)
    for a in assets:
        flat[5 * a.index : 5 * a.index + 5] = a.amounts
    return flat


def leaf_of(proof: Proof) -> int:
    """The account leaf hash of ``proof`` in its layout."""
    chunk = CHUNKS[proof.layout]
    if proof.layout == "binance":
        assets = commitment(tuple(pack3(padded_assets(proof.assets))), chunk)
    elif proof.layout == "binance-350x5":
        assets = commitment(tuple(pack3(dense_assets(proof.assets, V1_ASSET_COUNT))), chunk)
    else:
        held = {a.index: (a.amounts[0], a.amounts[1]) for a in proof.assets}
        assets = equity_debt_commitment(held, V1_ASSET_COUNT, chunk)
    return fork_hash([proof.id_hash, *proof.totals, assets], chunk)


def nil_leaf(layout: Layout) -> int:
    """The empty-account leaf of ``layout`` (NilAccountHash)."""
    chunk = CHUNKS[layout]
    if layout == "binance":
        return fork_hash([0] * 5, chunk)
    if layout == "binance-350x5":
        return fork_hash(
            [0, 0, 0, 0, commitment(tuple(pack3([0] * 5 * V1_ASSET_COUNT)), chunk)], chunk
        )
    return fork_hash([0, 0, 0, equity_debt_commitment({}, V1_ASSET_COUNT, chunk)], chunk)


def verify(proof: Proof) -> ForeignReport:
    """Recompute the leaf and the path of ``proof`` and report.

    Returns:
        the report; call :meth:`ForeignReport.raise_for_failures` to turn a failure into an error.
    """
    layout = proof.layout
    report = base_report(layout, "Binance", RULES[layout])
    names = _TOTALS[layout]
    report.user_balances = {n: str(v) for n, v in zip(names, proof.totals, strict=True)}
    for a in proof.assets:
        for name, amount in zip(_FIELDS[layout][1:], a.amounts, strict=True):
            report.user_balances[f"asset {a.index} {name}"] = str(amount)
    leaf = leaf_of(proof)
    record_path(
        report,
        leaf,
        proof.index,
        proof.path,
        proof.root,
        nil_leaf=nil_leaf(layout),
        chunk=CHUNKS[layout],
    )
    if not report.ok:
        _name_the_layout_of_the_empty_subtrees(report, proof)
    if layout != "binance-v1":
        _collateral_checks(report, proof)
    if layout == "binance":
        report.notes.append(
            f"assets padded to the {tier_of(len(proof.assets))}-asset tier; totals are in the "
            "exchange's base unit of value (not checkable without its price list)"
        )
    elif layout == "binance-350x5":
        report.notes.append(
            "binance-350x5 is the layout of Binance's published sample, recovered from that "
            "sample (its empty subtrees and root); no published Binance code computes it, so "
            "a pass here is not a pass under Binance's own verifier"
        )
        report.weaknesses.append(
            Weakness(
                "the published sample does not verify under the published code",
                "Binance's sample user_config.json fails main.go -user of the same commit "
                "(its tree was built with 350 dense assets and 12-input Poseidon chaining); "
                "a user cannot tell from a file which build made it.",
                SRC_OURS + " (binance/zkmerkle-proof-of-solvency src/verifier/config/"
                "user_config.json @5d26d4f against src/verifier/main.go of the same commit; "
                "tests/foreign/test_binance_gateio.py)",
            )
        )
    else:
        report.notes.append(
            "binance-v1: the 2023-04..2024-09 layout (Equity and Debt of 350 assets, no "
            "collateral); proofs published from 2024-09 use FORMAT binance"
        )
    if layout != "binance-v1":
        report.weaknesses.extend(BUILDER_WEAKNESSES)
    report.weaknesses.append(
        Weakness(
            "totals are not tied to the assets in the file",
            "TotalEquity, TotalDebt (and TotalCollateral) are values in the exchange's price "
            "unit; the leaf binds them as given, and only the (unchecked) circuit ties them to "
            "the asset amounts and prices.",
            SRC_OURS + " (binance/zkmerkle-proof-of-solvency src/utils/account_tree.go: the "
            "leaf hashes the totals as given; src/circuit ties them to the assets)",
        )
    )
    return report


def _name_the_layout_of_the_empty_subtrees(report: ForeignReport, proof: Proof) -> None:
    """On a failed path: if the path's empty subtrees are another layout's, say which.

    This is structural evidence read from the siblings (never a retry with each verifier
    until one passes); the user then chooses the FORMAT.
    """
    start = empty_run(proof.path, CHUNKS[proof.layout])
    if start is None:
        return
    for other in FORMATS:
        if other != proof.layout and (
            empty_subtree(nil_leaf(other), start, CHUNKS[other]) == proof.path[start]
        ):
            report.notes.append(
                f"the path's empty subtrees are those of layout {other}: check the file as "
                f"FORMAT {other}"
            )


def _collateral_checks(report: ForeignReport, proof: Proof) -> None:
    """The per-account rules of Binance's 2024 design, checkable on the user's own leaf."""
    over = [
        f"asset {a.index}: Loan+Margin+PortfolioMargin {sum(a.amounts[2:])} > Equity {a.amounts[0]}"
        for a in proof.assets
        if sum(a.amounts[2:]) > a.amounts[0]
    ]
    report.check(
        "collateral within equity",
        not over,
        "every asset's collateral (Loan + Margin + PortfolioMargin) is at most its Equity"
        if not over
        else "; ".join(over[:5]),
        kind="warning",
    )
    debt, collateral = proof.totals[1], proof.totals[2]
    report.check(
        "debt covered by collateral",
        debt <= collateral,
        f"TotalDebt {debt} {'<=' if debt <= collateral else '>'} TotalCollateral {collateral}"
        " (Binance admits an account only when its collateral covers its debt)",
        kind="warning",
    )
