"""``por-verify foreign okx-addresses`` on OKX's real address files and named attacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from verifier.cli import main
from verifier.errors import FormatError, VerificationError
from verifier.foreign.okx_addresses import (
    check_okx_address_file,
    parse_okx_address_csv,
)

DATA = Path(__file__).parents[1] / "data" / "okx_addresses"
FILE_2022 = DATA / "example_okx_por_example.563eaa1.csv"
FILE_CURRENT = DATA / "example_okx_por_example.csv"
FILE_STAKING = DATA / "example_okx_por_staking_example.csv"
FILE_AUP_2025 = DATA / "example_test.csv"
EXPECTED = json.loads((DATA / "okx_address_signatures.json").read_text())


def _run(path: Path, *extra: str) -> Any:
    return CliRunner().invoke(main, ["foreign", "okx-addresses", str(path), *extra])


def _expected_verdict(row: dict[str, Any]) -> str:
    """What we must answer for a row, from the collection's independent checks."""
    checked = row.get("independently_checked") or {}
    if row.get("eoa1") or row.get("eoa2"):
        return "unchecked"  # signatures by EOAs; their control of the address needs a node
    if checked.get("result") is True:
        return "verified"
    return "unchecked"  # signature_only (address derivation unknown) or no rule at all


def _our_verdicts() -> dict[tuple[str, int], str]:
    verdicts: dict[tuple[str, int], str] = {}
    for path in (FILE_2022, FILE_CURRENT, FILE_STAKING, FILE_AUP_2025):
        report = check_okx_address_file(path.read_bytes())
        for index, row in enumerate(report.rows):
            verdicts[(f"raw/{path.name}", index)] = row.verdict
    return verdicts


def test_every_published_row_gets_its_expected_verdict() -> None:
    ours = _our_verdicts()
    seen: dict[str, int] = {}
    mismatches = []
    for row in EXPECTED["rows"]:
        index = seen.get(row["source_file"], 0)
        seen[row["source_file"]] = index + 1
        verdict = ours[(row["source_file"], index)]
        expected = _expected_verdict(row)
        if row["coin"] == "DOGE":
            expected = "verified"  # not in the collection's checks; verified here (see below)
        if verdict != expected:
            mismatches.append((row["source_file"], row["address"], verdict, expected))
    assert mismatches == []
    assert len(ours) == EXPECTED["count"] == 50


def test_2022_file_all_33_rows_verify_exit_0() -> None:
    result = _run(FILE_2022)
    assert result.exit_code == 0, result.output
    assert "33 verified, 0 failed, 0 malformed, 0 unchecked" in result.output
    assert "some past time only" in result.output


def test_2022_file_json_report() -> None:
    result = _run(FILE_2022, "--json")
    assert result.exit_code == 0
    report = json.loads(result.output)
    assert report["verdict"] == "VERIFIED" and report["ok"] is True
    assert report["counts"]["verified"] == 33
    rules = {row["rule"] for row in report["rows"]}
    assert "tron-v1-hash32" in rules
    btc = [row for row in report["rows"] if row["chain"] == "BTC"]
    assert len(btc) == 9 and all(len(row["signer_keys"]) == 2 for row in btc)


@pytest.mark.parametrize("path", [FILE_CURRENT, FILE_STAKING, FILE_AUP_2025],
                         ids=["current", "staking", "aup-2025"])
def test_files_with_unchecked_rows_fail_closed(path: Path) -> None:
    result = _run(path, "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["counts"]["unchecked"] > 0
    assert report["counts"]["failed"] == 0 and report["counts"]["malformed"] == 0


def test_aup_2025_rows() -> None:
    report = check_okx_address_file(FILE_AUP_2025.read_bytes())
    by_chain = {row.chain: row for row in report.rows}
    assert by_chain["BTC"].verdict == "verified"
    # DOGE 2-of-3 P2SH verifies under Dogecoin's own signed-message magic.
    assert by_chain["DOGE"].verdict == "verified"
    assert "dogecoin" in by_chain["DOGE"].reason
    assert by_chain["TRON"].rule == "tron-v2"
    # OKC is OKX's "Ecdsa" coin type: the EVM rule must not be what verified it.
    assert by_chain["OKC"].verdict == "verified" and by_chain["OKC"].rule.startswith("okx-ecdsa")
    assert {row.verdict for row in report.rows if row.chain in {"STARKNET", "DOT", "ADA",
                                                                 "VAULTA"}} == {"unchecked"}
    with pytest.raises(VerificationError, match="unchecked"):
        report.raise_for_failures()


# --- named attacks on real rows ------------------------------------------------------

LINES = FILE_2022.read_text().splitlines()
BTC_P2WSH = next(i for i, line in enumerate(LINES) if line.startswith("BTC,bc1qxmaqq"))
EVM_ROW = next(i for i, line in enumerate(LINES) if line.startswith("ETH,0xe7d5"))


def _mutated(tmp_path: Path, index: int, row: str) -> Path:
    lines = list(LINES)
    lines[index] = row
    path = tmp_path / "mutated.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def _fields(index: int) -> list[str]:
    return LINES[index].split(",")


def test_attack_one_key_signs_twice(tmp_path: Path) -> None:
    fields = _fields(BTC_P2WSH)
    fields[5] = fields[4]  # signature2 := signature1: one key, counted once
    result = _run(_mutated(tmp_path, BTC_P2WSH, ",".join(fields)), "--json")
    assert result.exit_code == 1
    row = next(r for r in json.loads(result.stdout)["rows"] if r["chain"] == "BTC"
               and r["verdict"] != "verified")
    assert "again" in row["reason"]


def test_attack_address_not_the_script_hash(tmp_path: Path) -> None:
    other = next(i for i, line in enumerate(LINES) if line.startswith("BTC,bc1qjyxh8"))
    fields = _fields(BTC_P2WSH)
    fields[1] = _fields(other)[1]  # another OKX address with this row's script and signatures
    result = _run(_mutated(tmp_path, BTC_P2WSH, ",".join(fields)))
    assert result.exit_code == 1
    assert "not the hash" in result.output


def test_attack_undecodable_address_is_malformed(tmp_path: Path) -> None:
    fields = _fields(BTC_P2WSH)
    fields[1] = fields[1][:-1] + ("q" if fields[1][-1] != "q" else "p")  # bech32 checksum
    result = _run(_mutated(tmp_path, BTC_P2WSH, ",".join(fields)))
    assert result.exit_code == 2
    assert "MALFORMED" in result.output


def test_attack_evm_signature_for_another_address(tmp_path: Path) -> None:
    fields = _fields(EVM_ROW)
    fields[1] = "0x" + "11" * 20
    result = _run(_mutated(tmp_path, EVM_ROW, ",".join(fields)))
    assert result.exit_code == 1
    assert "recovers 0xe7d5f0677dbC8f27FE57bC8289C0450abD198533" in result.output


def test_attack_standard_personal_sign_rule_does_not_verify_okx_rows() -> None:
    """OKX signs keccak256(message); the standard EIP-191 rule fails on their rows."""
    from verifier.signatures.evm import verify_personal_sign

    fields = _fields(EVM_ROW)
    with pytest.raises(VerificationError):
        verify_personal_sign(fields[1], fields[3], fields[4])


def test_attack_unknown_chain_is_unchecked(tmp_path: Path) -> None:
    fields = _fields(EVM_ROW)
    fields[0] = "ETH-NEWCHAIN"
    result = _run(_mutated(tmp_path, EVM_ROW, ",".join(fields)))
    assert result.exit_code == 1
    assert "no signature rule for chain NEWCHAIN" in result.output


def test_unknown_column_is_malformed(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("coin,address,message,signature1,surprise\nETH,0x,m,0x,1\n")
    result = _run(path)
    assert result.exit_code == 2
    assert "unknown column" in result.output


def test_too_many_columns_is_format_error() -> None:
    with pytest.raises(FormatError, match="line 2: expected 4 columns, found 5"):
        parse_okx_address_csv(b"coin,address,message,signature1\nETH,0x,m,0x,extra\n")


def test_not_utf8_is_format_error() -> None:
    with pytest.raises(FormatError):
        parse_okx_address_csv(b"\xff\xfe\x00")


def test_empty_file_is_format_error() -> None:
    with pytest.raises(FormatError):
        parse_okx_address_csv(b"")


def test_ragged_rows_are_padded() -> None:
    layout, rows = parse_okx_address_csv(FILE_CURRENT.read_bytes())
    assert layout.startswith("11-column")
    assert rows[0].signature2 == "" and rows[0].eoa2 == ""


def test_registered_under_por_verify_foreign() -> None:
    result = CliRunner().invoke(main, ["foreign", "okx-addresses", str(FILE_2022), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["counts"]["verified"] == 33
