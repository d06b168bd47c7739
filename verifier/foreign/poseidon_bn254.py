"""Poseidon over the BN254 scalar field, as the gnark-crypto forks of Binance and Gate.io use it.

Owns the permutation (x^5 S-box, 8 full rounds, the circomlib partial-round counts), its
constants, and the two ways the forks chain long inputs. Pure Python ints, nothing else.

The constants are not copied from anyone's source: they are regenerated here from their
published derivation, the Grain LFSR of the Poseidon paper (Grassi, Khovratovich,
Rechberger, Roy, Schofnegger, "Poseidon: A New Hash Function for Zero-Knowledge Proof
Systems", USENIX Security 2021, appendix F; reference script
``generate_parameters_grain.sage`` of the hadeshash repository). circomlib, iden3's
go-iden3-crypto and the bnb-chain / gatechain gnark-crypto forks all use the constants
this derivation yields for t = 2..17 with R_F = 8 and the R_P below; they ship them in an
"optimised" form (sparse partial rounds) that computes the same permutation. The tests
check this module against the published vectors of go-iden3-crypto, hadeshash and the two
forks (``tests/foreign/test_poseidon_bn254.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from operator import mul

# The order of the BN254 (alt_bn128) G1 group: the field every value here lives in.
P = 21888242871839275222246405745257275088548364400416034343698204186575808495617
FIELD_BITS = 254
FULL_ROUNDS = 8
# Partial rounds for t = 2..17 (circomlib's table, chosen for 128-bit security by the
# paper's round-number script); index t - 2.
PARTIAL_ROUNDS = (56, 57, 56, 60, 60, 63, 64, 63, 60, 66, 60, 65, 70, 60, 64, 68)
MIN_WIDTH = 2
MAX_WIDTH = 17


def _shrink_table() -> tuple[str, ...]:
    """For each byte of sequence bits (first bit most significant): the bits it outputs."""
    table = []
    for byte in range(256):
        kept = ""
        for shift in (6, 4, 2, 0):
            if (byte >> (shift + 1)) & 1:
                kept += str((byte >> shift) & 1)
        table.append(kept)
    return tuple(table)


_SHRINK = _shrink_table()


class _Grain:
    """The Grain LFSR in self-shrinking mode, seeded with the instance's parameters.

    Sequence: b[i + 80] = b[i + 62] ^ b[i + 51] ^ b[i + 38] ^ b[i + 23] ^ b[i + 13] ^ b[i]
    from the 80 seed bits. The reference script steps it 160 times before using it, then
    reads only bits it computes from then on, so the first bit used is b[240]. Of each
    pair of bits used, the second is output when the first is 1.

    Speed: over GF(2), squaring the recurrence's polynomial k times spreads its taps by
    2^k, so b[i + 80m] = b[i + 62m] ^ ... ^ b[i] for m = 2^k as well; with m = 64 a
    5120-bit window yields 1152 new bits with six shifts.
    """

    _M = 64
    _WINDOW = 80 * _M
    _BLOCK = 18 * _M
    _BLOCKS_PER_REFILL = 64

    def __init__(self, width: int, partial_rounds: int) -> None:
        seed = (
            "01"  # field: GF(p)
            + "0000"  # S-box: x^alpha
            + format(FIELD_BITS, "012b")
            + format(width, "012b")
            + format(FULL_ROUNDS, "010b")
            + format(partial_rounds, "010b")
            + "1" * 30
        )
        bits = [int(c) for c in seed]
        for i in range(240 + self._WINDOW - 80):
            bits.append(
                bits[i + 62] ^ bits[i + 51] ^ bits[i + 38] ^ bits[i + 23] ^ bits[i + 13] ^ bits[i]
            )
        first = "".join(map(str, bits[240:]))  # b[240] .. b[240 + window - 1]
        self._window = int(first[::-1], 2)  # oldest bit lowest
        self._pending = first
        self._out = ""
        self._pos = 0

    def _refill(self) -> None:
        m, w, block = self._M, self._window, self._BLOCK
        mask = (1 << block) - 1
        parts = [self._pending]
        for _ in range(self._BLOCKS_PER_REFILL):
            new = (
                (w >> 62 * m) ^ (w >> 51 * m) ^ (w >> 38 * m) ^ (w >> 23 * m) ^ (w >> 13 * m) ^ w
            ) & mask
            w = (w >> block) | (new << (self._WINDOW - block))
            parts.append(format(new, f"0{block}b")[::-1])
        self._window = w
        self._pending = ""
        raw = "".join(parts)  # a multiple of 8 bits, starting on a pair boundary
        data = int(raw, 2).to_bytes(len(raw) // 8, "big")
        self._out = self._out[self._pos :] + "".join(map(_SHRINK.__getitem__, data))
        self._pos = 0

    def integer(self, bits: int) -> int:
        """Return the next ``bits`` output bits as an integer, most significant first."""
        while len(self._out) - self._pos < bits:
            self._refill()
        value = int(self._out[self._pos : self._pos + bits], 2)
        self._pos += bits
        return value


@cache
def constants(width: int) -> tuple[tuple[int, ...], tuple[tuple[int, ...], ...]]:
    """Return (round constants, MDS matrix) for state width ``width`` (inputs + 1).

    Round constants: (R_F + R_P) * t values of 254 bits, a value >= p discarded and the
    next taken. MDS: the Cauchy matrix M[i][j] = 1 / (x_i + y_j) of the next 2t values
    (taken mod p), as the reference script draws it. (That script regenerates the matrix
    if its security checks fail; for these parameters the first draw is the one in use,
    which the published vectors confirm.)

    Raises:
        ValueError: ``width`` outside 2..17 (a programming error, not input).
    """
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise ValueError(f"Poseidon width {width} outside {MIN_WIDTH}..{MAX_WIDTH}")
    partial = PARTIAL_ROUNDS[width - MIN_WIDTH]
    grain = _Grain(width, partial)
    rounds: list[int] = []
    while len(rounds) < (FULL_ROUNDS + partial) * width:
        candidate = grain.integer(FIELD_BITS)
        if candidate < P:
            rounds.append(candidate)
    while True:
        draws = [grain.integer(FIELD_BITS) % P for _ in range(2 * width)]
        if len(set(draws)) == len(draws):
            break
    xs, ys = draws[:width], draws[width:]
    if any((x + y) % P == 0 for x in xs for y in ys):  # the script draws again; never seen
        raise ValueError(f"Poseidon width {width}: degenerate Cauchy matrix")
    mds = tuple(tuple(pow(x + y, -1, P) for y in ys) for x in xs)
    return tuple(rounds), mds


def permute_reference(state: list[int]) -> list[int]:
    """Apply the Poseidon permutation to ``state`` (width 2..17, values in the field).

    The reference form (hadeshash ``poseidonperm_x5_254_*.sage``): every round adds its
    constants, applies x^5 to every cell in the R_F/2 first and last rounds and to cell 0
    in the R_P middle ones, then multiplies by the MDS matrix.
    """
    width = len(state)
    rounds, mds = constants(width)
    partial = PARTIAL_ROUNDS[width - MIN_WIDTH]
    half = FULL_ROUNDS // 2
    s = list(state)
    for r in range(FULL_ROUNDS + partial):
        added = zip(s, rounds[r * width : (r + 1) * width], strict=True)
        if half <= r < half + partial:
            s = [v + c for v, c in added]
            s[0] = pow(s[0], 5, P)
        else:
            s = [pow(v + c, 5, P) for v, c in added]
        # one reduction per cell: the products' sum is a few hundred bits at most
        s = [sum(map(mul, row, s)) % P for row in mds]
    return s


# How many inputs each fork absorbs per permutation before chaining (``maxLength`` in
# ecc/bn254/fr/poseidon/poseidon.go): bnb-chain/gnark-crypto 16, gatechain/gnark-crypto 12.
BINANCE_CHUNK = 16
GATEIO_CHUNK = 12


def fork_hash(inputs: list[int], chunk: int, output: int = 1) -> int:
    """Poseidon of ``inputs`` as the bnb-chain and gatechain gnark-crypto forks compute it.

    The state has a zero capacity cell followed by the inputs; the output is cell 1 (not
    circomlib's cell 0). More than ``chunk`` inputs are chained: each full chunk of
    ``chunk`` inputs overwrites cells 1..chunk and is permuted at width chunk + 1, keeping
    cell 0; a remainder of r inputs is permuted at width r + 1 with the carried cell 0.

    Raises:
        ValueError: no inputs, an input outside the field, or a chunk outside 1..16
            (programming errors: callers check input values first).
    """
    if not inputs:
        raise ValueError("Poseidon of no inputs")
    if not 1 <= chunk <= MAX_WIDTH - 1:
        raise ValueError(f"chunk {chunk} outside 1..{MAX_WIDTH - 1}")
    if any(not 0 <= v < P for v in inputs):
        raise ValueError("Poseidon input outside the field")
    state = [0] * (chunk + 1)
    full = len(inputs) // chunk if len(inputs) > chunk else 0
    for i in range(full):
        state = permute([state[0], *inputs[i * chunk : (i + 1) * chunk]])
    rest = inputs[full * chunk :]
    if rest:
        state = permute([state[0], *rest])
    return state[output]


Matrix = list[list[int]]


def _invert(m: Matrix) -> Matrix:
    """Invert a square matrix over the field (Gauss-Jordan).

    Raises:
        ValueError: singular (never for a Cauchy matrix's minors).
    """
    n = len(m)
    a = [[*row, *(int(i == j) for j in range(n))] for i, row in enumerate(m)]
    for col in range(n):
        pivot = next((r for r in range(col, n) if a[r][col] % P), None)
        if pivot is None:
            raise ValueError("singular matrix")
        a[col], a[pivot] = a[pivot], a[col]
        inv = pow(a[col][col], -1, P)
        a[col] = [v * inv % P for v in a[col]]
        for r in range(n):
            if r != col and a[r][col]:
                f = a[r][col]
                a[r] = [(v - f * w) % P for v, w in zip(a[r], a[col], strict=True)]
    return [row[n:] for row in a]


def _matmul(x: Matrix, y: Matrix) -> Matrix:
    columns = [list(c) for c in zip(*y, strict=True)]
    return [[sum(map(mul, row, c)) % P for c in columns] for row in x]


def _matpow(m: Matrix, e: int) -> Matrix:
    result = [[int(i == j) for j in range(len(m))] for i in range(len(m))]
    while e:
        if e & 1:
            result = _matmul(result, m)
        m = _matmul(m, m)
        e >>= 1
    return result


@dataclass(frozen=True)
class _Sparse:
    """The permutation rewritten with cheap partial rounds (same function, fewer products).

    Write the MDS matrix M = [[a, b^T], [c, D]]. In a partial round only cell 0 meets the
    S-box, so (1) the constants of cells 1.. can be carried forward through M into the
    next round, leaving one constant a round; and (2) M = B A with A = diag(1, D), which
    leaves cell 0 alone and so commutes with that round's S-box, and B = [[a, b^T D^-1],
    [c, I]], which costs 2t - 1 products. Moving each A back into the previous round's
    matrix gives, from the last partial round back: D_r = D^k (k rounds to the end),
    w_r = b^T D^-k, c_r = D^(k-1) c, and the last full round before them uses
    P = diag(1, D^R_P) M. ``permute_reference`` is the plain form; the tests check that
    both agree on random states of every width.
    """

    full_constants: tuple[tuple[int, ...], ...]  # per full round
    partial_constants: tuple[int, ...]  # cell-0 constant per partial round
    mds: Matrix
    pre_partial: Matrix  # P
    w: tuple[tuple[int, ...], ...]  # per partial round, length t - 1
    v: tuple[tuple[int, ...], ...]  # per partial round, length t - 1


@cache
def _sparse(width: int) -> _Sparse:
    rounds, mds_t = constants(width)
    mds = [list(row) for row in mds_t]
    partial = PARTIAL_ROUNDS[width - MIN_WIDTH]
    half = FULL_ROUNDS // 2
    total = FULL_ROUNDS + partial
    c = [list(rounds[r * width : (r + 1) * width]) for r in range(total)]
    for r in range(half, half + partial):  # carry cells 1.. forward through M
        rest = [0, *c[r][1:]]
        carried = [sum(map(mul, row, rest)) % P for row in mds]
        c[r + 1] = [(x + y) % P for x, y in zip(c[r + 1], carried, strict=True)]
        c[r] = [c[r][0]] + [0] * (width - 1)
    a_row = mds[0][1:]
    col = [row[0] for row in mds[1:]]
    d = [row[1:] for row in mds[1:]]
    d_inv_cols = [list(x) for x in zip(*_invert(d), strict=True)]
    ws: list[tuple[int, ...]] = []
    vs: list[tuple[int, ...]] = []
    w = [sum(map(mul, a_row, column)) % P for column in d_inv_cols]
    v = col
    for _ in range(partial):  # from the last partial round back to the first
        ws.append(tuple(w))
        vs.append(tuple(v))
        w = [sum(map(mul, w, column)) % P for column in d_inv_cols]
        v = [sum(map(mul, row, v)) % P for row in d]
    ws.reverse()
    vs.reverse()
    lower = _matmul(_matpow(d, partial), mds[1:])  # D^R_P times the rows 1.. of M
    return _Sparse(
        full_constants=tuple(tuple(c[r]) for r in range(total) if not half <= r < half + partial),
        partial_constants=tuple(c[r][0] for r in range(half, half + partial)),
        mds=mds,
        pre_partial=[mds[0][:], *lower],
        w=tuple(ws),
        v=tuple(vs),
    )


def permute(state: list[int]) -> list[int]:
    """Apply the Poseidon permutation to ``state`` (width 2..17, values in the field).

    Computes the same function as :func:`permute_reference`, with sparse partial rounds.
    """
    width = len(state)
    sp = _sparse(width)
    half = FULL_ROUNDS // 2
    s = list(state)
    for r in range(FULL_ROUNDS):
        s = [pow(x + k, 5, P) for x, k in zip(s, sp.full_constants[r], strict=True)]
        matrix = sp.pre_partial if r == half - 1 else sp.mds
        s = [sum(map(mul, row, s)) % P for row in matrix]
        if r == half - 1:
            for k0, w, v in zip(sp.partial_constants, sp.w, sp.v, strict=True):
                x0 = pow(s[0] + k0, 5, P)
                rest = s[1:]
                s = [(sp.mds[0][0] * x0 + sum(map(mul, w, rest))) % P] + [
                    (vi * x0 + xi) % P for vi, xi in zip(v, rest, strict=True)
                ]
    return s
