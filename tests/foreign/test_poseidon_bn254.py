"""Poseidon over BN254 against published vectors, before any exchange sample is touched.

Sources of the expected values (all public test files; numbers only are copied):
  * iden3/go-iden3-crypto @4c63aa3, poseidon/poseidon_test.go (circomlib-compatible
    Hash / HashEx: output cell 0, and cells 0..n-1 of HashEx), widths 2..17;
  * hadeshash test_vectors.txt (poseidonperm_x5_254_3 and _5), as quoted in the forks' tests;
  * bnb-chain/gnark-crypto @aa6a2850, ecc/bn254/fr/poseidon/poseidon_test.go (16 inputs a
    permutation, output cell 1) and @6e0195f2 (12 a permutation, output cell 0);
  * gatechain/gnark-crypto v0.7.1, same file (12 a permutation, output cell 1);
  * bnb-chain/gnark @4b526106, std/hash/poseidon/poseidon_test.go (the circuit, 12, cell 1);
  * bnb-chain/gnark @4b526106, std/hash/poseidon/constants/t2.go and t6.go (constants).
Inputs are 1..n unless given.
"""

from __future__ import annotations

import base64
import csv
import json
import random
from pathlib import Path

import pytest

from verifier.foreign import binance, gateio
from verifier.foreign.poseidon_bn254 import P, constants, fork_hash, permute
from verifier.foreign.zkmerkle import empty_root, empty_run, empty_subtree

DATA = Path(__file__).parent.parent / "data" / "foreign"

IDEN3_HASH = [  # Hash(inputs) = cell 0 of the permutation of [0, *inputs]
    ([1], 18586133768512220936620570745912940619677854269274689475585506675881198879027),
    ([1, 2], 7853200120776062878684798364095072458815029376092732009249414926327459813530),
    ([1, 2, 0, 0, 0], 1018317224307729531995786483840663576608797660851238720571059489595066344487),
    (
        [1, 2, 0, 0, 0, 0],
        15336558801450556532856248569924170992202208561737609669134139141992924267169,
    ),
    ([3, 4, 0, 0, 0], 5811595552068139067952687508729883632420015185677766880877743348592482390548),
    (
        [3, 4, 0, 0, 0, 0],
        12263118664590987767234828103155242843640892839966517009184493198782366909018,
    ),
    (
        [1, 2, 3, 4, 5, 6],
        20400040500897583745843009878988256314335038853985262692600694741116813247201,
    ),
    (
        list(range(1, 15)),
        8354478399926161176778659061636406690034081872658507739535256090879947077494,
    ),
    (
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 0, 0, 0],
        5540388656744764564518487011617040650780060800286365721923524861648744699539,
    ),
    (
        [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 0, 0, 0, 0, 0, 0],
        11882816200654282475720830292386643970958445617880627439994635298904836126497,
    ),
    (
        list(range(1, 17)),
        9989051620750914585850546081941653841776809718687451684622678807385399211877,
    ),
]

# HashEx(1..16, 11): cells 0..10 of the width-17 permutation.
IDEN3_HASHEX_16 = [
    9989051620750914585850546081941653841776809718687451684622678807385399211877,
    8319791455060392555425392842391403897548969645190976863995973180967774875286,
    21636406227810893698117978732800647815305553312233448361627674958309476058692,
    5858261170370825589990804751061473291946977191299454947182890419569833191564,
    9379453522659079974536893534601645512603628658741037060370899250203068088821,
    473570682425071423656832074606161521036781375454126861176650950315985887926,
    6579803930273263668667567320853266118141819373699554146671374489258288008348,
    19782381913414087710766737863494215505205430771941455097533197858199467016164,
    16057750626779488870446366989248320873718232843994532204040561017822304578116,
    18984357576272539606133217260692170661113104846539835604742079547853774113837,
    6999414602732066348339779277600222355871064730107676749892229157577448591106,
]

BNB_16_CELL1 = {  # bnb-chain/gnark-crypto @aa6a2850
    1: 7764075183688725171230668857402392634761334547267776368103645048439717572548,
    2: 7142104613055408817911962100316808866448378443474503659992478482890339429929,
    4: 7817711165059374331357136443537800893307845083525445872661165200086166013245,
    13: 1709610050961943784828399921362905178787999827108026634048665681910636069934,
    16: 8319791455060392555425392842391403897548969645190976863995973180967774875286,
    24: 14281896993318141900551144554156181598834585543901557749703302979893059224887,
    30: 3706864405066113783363062549980271879113588784557216652303342540436728346372,
    256: 3889232958018785041730045800798978544000060048890444628344970190264245196615,
}

CHUNK12_CELL1 = {  # gatechain/gnark-crypto v0.7.1 and bnb-chain/gnark @4b526106 (circuit)
    1: 0x112A4F9241E384B0EDE4655E6D2BBF7EBD9595775DE9E7536DF87CD487852FC4,
    2: 0xFCA49B798923AB0239DE1C9E7A4A9A2210312B6A2F616D18B5A87F9B628AE29,
    4: 0x1148AAEF609AA338B27DAFD89BB98862D8BB2B429ACEAC47D86206154FFE053D,
    13: 0x4EA9108A1551C780A7408570BDEAA3A0294B01F21198B72FF01545A60DA677F,
    24: 0x6C7676E83EF8CB9EF6C25746A5F6B2D39FBA4548B4C29B3D41490BBF3C1108D,
    30: 0x2FF47AB8E9E9F6134600A8DE8B8E99596E573620A7D8D39ED7B2C7CEF9F105F1,
    256: 0x182AF1C3FFD14FA66CDF5FE5D5199473678F221CA3BAB09B44758EF80641C1E0,
}

CHUNK12_CELL0 = {  # bnb-chain/gnark-crypto @6e0195f2 (before "Fix poseidon output")
    2: 0x115CC0F5E7D690413DF64C6B9662E9CF2A3617F2743245519E19607A4417189A,
    4: 0x299C867DB6C1FDD79DCEFA40E4510B9837E60EBB1CE0663DBAA525DF65250465,
    24: 0x612D378F91DC3422E6C60E54D24E3FA6D8000F0E47CDACE9BDB304506E3C9D3,
    30: 0x140CEA90C05A04C7140337789BD4CDE38BA73EE1988D34533F3F8F7B6AAC5675,
}


@pytest.mark.parametrize(
    ("inputs", "expected"), IDEN3_HASH, ids=[str(len(v[0])) for v in IDEN3_HASH]
)
def test_iden3_hash_vectors(inputs: list[int], expected: int) -> None:
    assert permute([0, *inputs])[0] == expected


def test_iden3_hashex_gives_every_cell_of_width_17() -> None:
    assert permute([0, *range(1, 17)])[:11] == IDEN3_HASHEX_16


def test_hadeshash_width_3_full_state() -> None:
    assert permute([0, 1, 2]) == [
        0x115CC0F5E7D690413DF64C6B9662E9CF2A3617F2743245519E19607A4417189A,
        0x0FCA49B798923AB0239DE1C9E7A4A9A2210312B6A2F616D18B5A87F9B628AE29,
        0x0E7AE82E40091E63CBD4F16A6D16310B3729D4B6E138FCF54110E2867045A30C,
    ]


@pytest.mark.parametrize(("n", "expected"), sorted(BNB_16_CELL1.items()))
def test_bnb_chain_fork_16_inputs_per_permutation(n: int, expected: int) -> None:
    assert fork_hash(list(range(1, n + 1)), 16) == expected


@pytest.mark.parametrize(("n", "expected"), sorted(CHUNK12_CELL1.items()))
def test_gatechain_fork_and_gnark_circuit_12_per_permutation(n: int, expected: int) -> None:
    assert fork_hash(list(range(1, n + 1)), 12) == expected


@pytest.mark.parametrize(("n", "expected"), sorted(CHUNK12_CELL0.items()))
def test_early_bnb_fork_output_cell_0(n: int, expected: int) -> None:
    assert fork_hash(list(range(1, n + 1)), 12, output=0) == expected


def test_grain_constants_match_published_ones() -> None:
    # hadeshash / circomlib t=3 first round constant; gnark circuit t2.go and t6.go.
    assert constants(3)[0][0] == 0x0EE9A592BA9A9518D05986D656F40C2114C4993C11BB29938D21D47304CD8E6E
    assert constants(2)[0][:2] == (
        0x09C46E9EC68E9BD4FE1FAABA294CBA38A71AA177534CDD1B6C7DC0DBD0ABD7A7,
        0x0C0356530896EEC42A97ED937F3135CFC5142B3AE405B8343C1D83FFA604CB81,
    )
    assert constants(6)[0][:2] == (
        0x1448614598E00F98E7AE7DEA45FBD83BD968653EF8390CDE2E86B706AD40C651,
        0x0AB7B291388E5C9E43C0DC1F591FB83ECDB65022E1B70AF43B8A7B40C1DFF7C3,
    )
    rounds, mds = constants(17)
    assert len(rounds) == (8 + 68) * 17 and all(0 <= c < P for c in rounds)
    assert len(mds) == 17 and all(len(row) == 17 for row in mds)


def test_fork_hash_refuses_what_the_forks_refuse() -> None:
    with pytest.raises(ValueError, match="no inputs"):
        fork_hash([], 16)
    with pytest.raises(ValueError, match="outside the field"):
        fork_hash([P], 16)
    with pytest.raises(ValueError, match="width"):
        permute([0] * 18)


# Published empty-tree roots: they pin each layout's empty leaf and its Poseidon build.


@pytest.mark.parametrize(
    ("layout", "root"),
    [
        ("binance", "08696bfcb563a2ee4dde9e1dbd34f68d3f4643df6e3709cdb1855c9f886240c7"),
        ("binance-v1", "0e85b74bfd43747cb5e18ecb067727243f2e919a91ef69d86b5a27ed74bea7c2"),
    ],
)
def test_binance_published_empty_roots(layout: binance.Layout, root: str) -> None:
    assert empty_root(binance.nil_leaf(layout), 16) == int(root, 16)


@pytest.mark.parametrize(
    ("layout", "root"),
    [
        ("gateio", "037bf6d8fe5b7cbaecf7b35604b57f82173f5c8155c1c750cef00afebcd65436"),
        # also Binance's own first empty root (@c1884aa): the layout Gate.io forked
        ("gateio-350", "0118925954da77d1a4b241fd163e4373e2265c515cfa60af7fcd28c8cb9ad58a"),
    ],
)
def test_gateio_published_empty_roots(layout: gateio.Layout, root: str) -> None:
    assert empty_root(gateio.nil_leaf(layout), 12) == int(root, 16)


def _b64(s: str) -> int:
    return int.from_bytes(base64.b64decode(s), "big")


def test_gateio_proof_table_roots_and_batch_commitment() -> None:
    """proof.csv: empty root before, the user file's root after, and the batch commitment."""
    with (DATA / "gateio/proof.csv").open(newline="") as f:
        (row,) = list(csv.DictReader(f))
    roots = [_b64(r) for r in json.loads(row["account_tree_roots"])]
    assets = [_b64(c) for c in json.loads(row["cex_asset_list_commitments"])]
    assert roots[0] == empty_root(gateio.nil_leaf("gateio"), 12)
    user = json.loads((DATA / "gateio/user_config.json").read_text())
    assert roots[1] == int(user["TreeRootHash"], 16)
    assert fork_hash([*roots, *assets], 12) == _b64(row["batch_commitment"])


def _grain_bit_by_bit(width: int, partial: int, count: int) -> list[int]:
    """The reference script's generator, one LFSR step at a time (the obviously right one)."""
    seed = "01" + "0000" + format(254, "012b") + format(width, "012b")
    seed += format(8, "010b") + format(partial, "010b") + "1" * 30
    bits = [int(c) for c in seed]

    def step() -> int:
        new = bits[62] ^ bits[51] ^ bits[38] ^ bits[23] ^ bits[13] ^ bits[0]
        bits.pop(0)
        bits.append(new)
        return new

    for _ in range(160):
        step()
    out: list[int] = []
    while len(out) < count:
        first, second = step(), step()
        if first:
            out.append(second)
    return out


@pytest.mark.parametrize(("width", "partial"), [(2, 56), (3, 57), (9, 60), (17, 68)])
def test_fast_grain_matches_the_bit_by_bit_generator(width: int, partial: int) -> None:
    from verifier.foreign.poseidon_bn254 import _Grain

    slow = _grain_bit_by_bit(width, partial, 3 * 254)
    fast = _Grain(width, partial)
    assert [fast.integer(254) for _ in range(3)] == [
        int("".join(map(str, slow[i * 254 : (i + 1) * 254])), 2) for i in range(3)
    ]


@pytest.mark.parametrize("width", range(2, 18))
def test_sparse_permutation_equals_the_reference_form(width: int) -> None:
    """The fast permutation (sparse partial rounds) against the plain one, on random states."""
    from verifier.foreign.poseidon_bn254 import permute_reference

    rng = random.Random(width)
    for state in ([0] * width, [P - 1] * width, [rng.randrange(P) for _ in range(width)]):
        assert permute(state) == permute_reference(state)


def test_binance_sample_empty_subtrees_are_the_350x5_layouts() -> None:
    """The evidence for ``binance-350x5``: levels 15..27 of the sample are its empty subtrees."""
    doc = json.loads((DATA / "binance/user_config.json").read_text())
    path = tuple(_b64(s) for s in doc["Proof"])
    assert empty_run(path, 12) == 15
    assert empty_subtree(binance.nil_leaf("binance-350x5"), 15, 12) == path[15]
    assert empty_subtree(binance.nil_leaf("binance"), 15, 16) != path[15]
