"""The FastAPI application: the JSON API under ``/api/v1/``, the public page, static files.

Routes return the public models of :mod:`api.models` only. Every answer carries a strict
Content-Security-Policy (scripts, styles and charts come from this app's own
``api/static``; nothing from a CDN, nothing inline). ``GET /api/v1/proofs/{token}``
answers a token that opens no proof exactly as a path that does not exist, after the same
work, and is rate-limited per client (:mod:`api.ratelimit`); tokens never reach a log line.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, unquote

import anyio
import anyio.to_thread
from fastapi import FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api import models as m
from api.ratelimit import RateLimiter
from api.source import (
    AttestationCheck,
    Freshness,
    LoadedReserves,
    Publication,
    Unavailable,
    b64,
    env_path,
    load_public_key,
    solvency_rows,
)
from por.errors import InputError
from por.liabilities.tokens import ServingUnavailable, TokenIndex, TokenRecord, token_id
from verifier.attestation.model import AnySummary
from verifier.encoding.canonical import format_time
from verifier.errors import PorError
from verifier.liabilities.margin_round import MarginRootSummary
from verifier.liabilities.summary import format_units
from verifier.log.sth import SignedTreeHead
from verifier.log.witness import COSIGNED_BY
from verifier.private.proof import PrivateRoot
from verifier.reserves.model import SOURCE_NODE, SOURCE_REPORTED
from verifier.signed.keys import PublicKey

HERE = Path(__file__).parent
API = "/api/v1"
MAX_SIZE = (1 << 53) - 1  # tree sizes and indices are exact JSON numbers (docs/spec.md §12.2)
CSP = (  # 'wasm-unsafe-eval': the private-proof verifier's WebAssembly (spec §16.15), no eval
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self';"
    " img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none';"
    " form-action 'none'; frame-ancestors 'none'"
)
NOT_FOUND = {"detail": "Not Found"}  # Starlette's own answer for an unknown path
EXPLORERS = {
    ("evm", "1"): "https://etherscan.io/address/{address}",
    ("evm", "10"): "https://optimistic.etherscan.io/address/{address}",
    ("evm", "56"): "https://bscscan.com/address/{address}",
    ("evm", "137"): "https://polygonscan.com/address/{address}",
    ("evm", "8453"): "https://basescan.org/address/{address}",
    ("evm", "42161"): "https://arbiscan.io/address/{address}",
    ("bitcoin", "bitcoin"): "https://mempool.space/address/{address}",
    ("bitcoin", "bitcoin-testnet"): "https://mempool.space/testnet/address/{address}",
    ("bitcoin", "litecoin"): "https://litecoinspace.org/address/{address}",
    ("bitcoin", "dogecoin"): "https://dogechain.info/address/{address}",
    ("solana", "mainnet"): "https://explorer.solana.com/address/{address}",
    ("solana", "devnet"): "https://explorer.solana.com/address/{address}?cluster=devnet",
    ("solana", "testnet"): "https://explorer.solana.com/address/{address}?cluster=testnet",
}
RoundId = Annotated[str, PathParam(max_length=64, description="A round id (spec §3).")]
Size = Annotated[int, PathParam(ge=0, le=MAX_SIZE)]
# A "proofs" path segment however it is spelled: any case, any run of slashes before it
# (``/api/v1//proofs/``), and after percent-decoding (``%70roofs``, ``proofs%2F``).
_PROOFS_SEGMENT = re.compile(r"/+proofs", re.IGNORECASE)  # over-redacting costs nothing


def redact_path(text: str) -> str:
    """``text`` with everything from a ``/proofs`` path segment on replaced by
    ``/proofs/<redacted>``.

    The text is percent-decoded (repeatedly: a double-encoded path is decoded twice) before
    the segment is looked for, so no spelling of a proof path keeps its token.
    """
    decoded = text
    for _ in range(4):
        step = unquote(decoded)
        if step == decoded:
            break
        decoded = step
    found = _PROOFS_SEGMENT.search(decoded)
    if found is None:
        return text
    return decoded[: found.start()] + "/proofs/<redacted>"


class _RedactTokens(logging.Filter):
    """Redact proof tokens in uvicorn's error log (and in any access log a deployment turns
    back on): a token in a log is a proof handed to whoever reads the log. Any path with a
    ``proofs`` segment, in any spelling the router might accept or refuse, loses everything
    after that segment, in the message, its arguments and a traceback's text."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(
                redact_path(a) if isinstance(a, str) else a for a in record.args
            )
        if isinstance(record.msg, str):
            record.msg = _redact_words(record.msg)
        if record.exc_info and not record.exc_text:
            # A formatter would write the traceback's text as it is: redact it first (the
            # formatter keeps a set exc_text).
            record.exc_text = "\n".join(
                _redact_words(line)
                for line in logging.Formatter().formatException(record.exc_info).split("\n"))
        return True


def _redact_words(message: str) -> str:
    return " ".join(redact_path(word) for word in message.split(" "))


ACCESS_LOG = logging.getLogger("por.access")  # ``por serve`` writes it to standard output
_SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
]


def access_line(scope: Scope, status: int) -> str:
    """The access-log line of an answer, made from nothing but redacted parts.

    The path of a successful answer, cut at any ``/proofs`` segment (:func:`redact_path`)
    and percent-quoted so no byte of it can start a new line; of any other answer (not
    found, refused, redirected, failed: the path is whatever was typed, a mistyped proof
    link too) only ``/api/v1/proofs/<redacted>`` when it is a proof path, else nothing; the
    query string never (it may carry anything), only a ``?`` saying there was one.
    """
    client = scope.get("client")
    if 200 <= status < 300:
        path = quote(redact_path(scope["path"]), safe="/<>")
    elif _PROOF_PATH.fullmatch(scope["path"]):
        path = f"{API}/proofs/<redacted>"
    else:
        path = "<path not logged>"
    query = "?<query>" if scope.get("query_string") else ""
    who = f"{client[0]}:{client[1]}" if client else "-"
    return f'{who} - "{scope["method"]} {path}{query} HTTP/{scope["http_version"]}" {status}'


class Edge:
    """The outermost pure ASGI layer (outside Starlette's error middleware, so a 500 gets
    them too): adds the CSP and its companions to every answer as one precomputed raw
    header list, and writes the access log (uvicorn's is off under ``por serve``) from
    :func:`access_line`, so a raw path is never formatted into a log record. Starlette's
    BaseHTTPMiddleware halved the request rate in bench/; this costs a closure a request.

    HEAD is answered as GET without the body (RFC 9110 §9.3.2): the layers inside see a
    GET, so the status and every header (the length of the GET's body included) are the
    GET's, a proof request is rate-limited and looked up alike (a HEAD tells a valid token
    from another as a GET does), and the log line says HEAD with the same redacted path."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        log = ACCESS_LOG.isEnabledFor(logging.INFO)
        head = scope["method"] == "HEAD"

        async def answer(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *_SECURITY_HEADERS]
                if log:
                    ACCESS_LOG.info(access_line(scope, message["status"]))
            elif head and message["type"] == "http.response.body":
                message = {**message, "body": b""}
            await send(message)

        await self.app({**scope, "method": "GET"} if head else scope, receive, answer)


RawHeader = tuple[bytes, bytes]
_NO_STORE_JSON: tuple[RawHeader, ...] = (
    (b"content-type", b"application/json"), (b"cache-control", b"no-store"))


def _json_body(detail: str) -> bytes:
    """``{"detail": ...}`` as Starlette's JSONResponse writes it."""
    return json.dumps({"detail": detail}, separators=(",", ":")).encode()


_NOT_FOUND = _json_body(NOT_FOUND["detail"])
_LIMITED = _json_body("too many proof requests; try again later")
_CANNOT_SERVE = _json_body("this proof cannot be served right now")
_PROOF_PATH = re.compile(API + "/proofs/([^/]+)")  # the router's {token}: no slash


def _headers(body: bytes, *extra: RawHeader) -> list[RawHeader]:
    """A proof answer's raw headers: its length, JSON, never cached (a proof is personal)."""
    return [(b"content-length", b"%d" % len(body)), *_NO_STORE_JSON, *extra]


class _Answer(Response):
    """A response from a status, its complete raw headers (:func:`_headers`) and bytes."""

    def __init__(self, status: int, headers: list[RawHeader], body: bytes) -> None:
        self.status_code, self.raw_headers, self.body, self.background = (
            status, headers, body, None)


class ProofRoute:
    """``GET /api/v1/proofs/{token}`` as a pure ASGI layer in front of the router: the one
    request anyone can send at volume skips the framework's per-request machinery (route
    scan, parameter solving, response classes), which cost more than the proof itself
    (bench/bench_api.py). Same path rule as the router (a percent-decoded segment without a
    slash), same answers (``answer``, which the documented route calls too); anything else
    (another method, a root path) goes on to the router. Sits inside Starlette's error
    middleware, so a failure is a 500 like any route's."""

    def __init__(self, app: ASGIApp,
                 answer: Callable[[str, str], Awaitable[tuple[int, list[RawHeader], bytes]]]
                 ) -> None:
        self.app = app
        self.answer = answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = (_PROOF_PATH.fullmatch(scope["path"]) if scope["type"] == "http"
                 and scope["method"] == "GET" and not scope.get("root_path") else None)
        if found is None:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        # A spot or margin proof on the event loop, not in a thread pool: the work is CPU
        # under the GIL on mapped files (a page fault holds the GIL in a worker thread too),
        # so a pool's hop would cost about half a trivial request here (bench/bench_api.py)
        # and buy nothing. A private proof (range proofs, GIL released) goes to a thread.
        status, headers, body = await self.answer(found.group(1),
                                                  client[0] if client else "unknown")
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class _PorAPI(FastAPI):
    """FastAPI with :class:`Edge` outside its whole middleware stack."""

    def build_middleware_stack(self) -> ASGIApp:
        return Edge(super().build_middleware_stack())


@dataclass(frozen=True)
class Settings:
    """Where the service reads from, and how hard it limits proof requests."""

    database_url: str | None = None
    rounds_dir: Path | None = None
    keylist: Path | None = None
    auditor_keys: tuple[Path, ...] = ()
    witness_keys: tuple[Path, ...] = ()
    witness_quorum: int | None = None
    proof_rate_per_minute: float = 30.0
    proof_burst: int = 10
    private_proof_cache: int = 64  # a private round's last answers kept (spec §16.16); 0: none

    @classmethod
    def from_env(cls) -> Settings:
        """Settings from ``$POR_DATABASE_URL``, ``$POR_SERVE_ROUNDS``, ``$POR_SERVE_KEYLIST``,
        ``$POR_SERVE_AUDITOR_KEYS`` and ``$POR_SERVE_WITNESS_KEYS`` (paths joined by
        ``os.pathsep``), ``$POR_SERVE_WITNESS_QUORUM`` (empty: every witness),
        ``$POR_SERVE_PROOF_RATE`` (per minute; 0 turns the limit off),
        ``$POR_SERVE_PROOF_BURST`` and ``$POR_SERVE_PRIVATE_CACHE`` (private proofs kept,
        default 64; 0 keeps none): what ``por serve`` sets for uvicorn's worker processes.

        Raises:
            ValueError: a rate or burst that is not a number.
        """
        return cls(
            database_url=os.environ.get("POR_DATABASE_URL") or None,
            rounds_dir=env_path("POR_SERVE_ROUNDS"),
            keylist=env_path("POR_SERVE_KEYLIST"),
            auditor_keys=tuple(
                Path(p) for p in os.environ.get("POR_SERVE_AUDITOR_KEYS", "").split(os.pathsep)
                if p
            ),
            witness_keys=tuple(
                Path(p) for p in os.environ.get("POR_SERVE_WITNESS_KEYS", "").split(os.pathsep)
                if p
            ),
            witness_quorum=int(os.environ["POR_SERVE_WITNESS_QUORUM"])
            if os.environ.get("POR_SERVE_WITNESS_QUORUM") else None,
            proof_rate_per_minute=float(os.environ.get("POR_SERVE_PROOF_RATE", "30")),
            proof_burst=int(os.environ.get("POR_SERVE_PROOF_BURST", "10")),
            private_proof_cache=int(os.environ.get("POR_SERVE_PRIVATE_CACHE") or "64"),
        )


def percent(ratio: str | None) -> str:
    """A ratio string ("1.052341") as an exact percentage ("105.2341%"); "—" for None."""
    if ratio is None:
        return "—"
    whole, _, frac = ratio.partition(".")
    scaled = int(whole + frac.ljust(6, "0")[:6])  # the ratio times 10^6, exactly
    return f"{scaled // 10_000}.{scaled % 10_000:04d}%"


def _solvency(summary: AnySummary, reserves: LoadedReserves | None) -> list[m.AssetSolvency]:
    """The figures recomputed from the files by the attestation's own functions (one way
    of computing a figure only); without a reserves file, every liability is uncovered."""
    return [m.AssetSolvency.model_validate(row)
            for row in solvency_rows(summary, reserves.file if reserves else None)]


def _privacy(summary: AnySummary) -> m.PrivacyOut | None:
    """What a proof of a private round reveals for its L (spec §16.14); None otherwise."""
    if not isinstance(summary, PrivateRoot):
        return None
    return m.PrivacyOut(scheme_version=summary.version,  # type: ignore[arg-type]
                        hidden_levels=summary.hidden_levels, levels=summary.levels,
                        reveals=summary.reveals())


CHECKED_AS = ("por-verify bundle BUNDLE --skip-chain --auditor-key KEY (for each auditor key "
              "this server was given): the chains are not re-read here")
_SIGNATURE_CODES = frozenset({"signature", "key-list"})
_AUDITOR_CODES = frozenset({"auditor-signature"})
_WITNESS_CODES = frozenset({"witness-signature", "witness-quorum"})
_LOG_CODES = frozenset({"log-inclusion", "log-consistency", "previous-attestation",
                        "tree-head", "not-in-log"})


def _signed_out(check: AttestationCheck) -> m.SignedAttestationOut:
    att = check.attestation
    return m.SignedAttestationOut(
        payload_sha256=check.stored.payload_sha256,
        log_index=check.stored.log_index,
        exchange=att.exchange if att else None,
        snapshot_time=format_time(att.snapshot_time) if att else None,
        attested_at=format_time(att.attested_at) if att else None,
        key_id=att.key_id if att else None,
        previous_attestation=att.previous.hex() if att and att.previous else None,
        liabilities_root=att.liabilities.root_hash.hex() if att else None,
        leaf_count=att.liabilities.leaf_count if att else None,
        reserves_file_sha256=att.reserves.sha256.hex() if att else None,
        chains=[m.SignedChain(name=c.name, kind=c.kind, network=c.network, height=c.height,
                              block_hash=c.block_hash)
                for c in (att.reserves.chains if att else ())],
        solvency=[m.SignedSolvency.model_validate(s.to_dict())
                  for s in (att.solvency if att else ())],
        all_covered=att.all_covered if att else None,
        signers=[m.SignerOut(key_id=s.key_id, label=s.label, role=s.role,  # type: ignore[arg-type]
                             check=s.status)  # type: ignore[arg-type]
                 for s in check.signers],
        verdict=check.check.verdict,  # type: ignore[arg-type]
        findings=[m.FindingOut(code=f.code, message=f.message) for f in check.findings],
        passed=list(check.check.passed),
        notes=list(check.check.notes),
        checked_as=CHECKED_AS,
        served_findings=[m.FindingOut(code=f.code, message=f.message) for f in check.served],
    )


def trim_units(amount: int, decimals: int) -> str:
    """``format_units`` without trailing zeros ("12.30000000" -> "12.3"): still exact."""
    text = format_units(amount, decimals)
    return text.rstrip("0").rstrip(".") if "." in text else text


def percent_short(ratio: str | None) -> str:
    """A ratio string ("0.981234") as a percentage rounded down to 0.1 ("98.1 %")."""
    if ratio is None:
        return "—"
    whole, _, frac = ratio.partition(".")
    tenths = int(whole + frac.ljust(3, "0")[:3])  # the ratio times 1000, rounded down
    return f"{tenths // 10}.{tenths % 10} %"


def _wallet_line(wallets: m.WalletList | None) -> m.CheckLine:
    name = "Wallet signatures"
    if wallets is None:
        return m.CheckLine(name=name, status="warn", text="no reserves file is published")
    checks = [w.signature_check for w in wallets.wallets]
    failed, node = checks.count("failed"), checks.count("needs-node")
    total = len(checks)
    if failed:
        return m.CheckLine(name=name, status="fail", text=(
            f"{failed} of {total} wallets' signatures do NOT verify (checked here without a "
            "node); the attestation still counts their balances, so por-verify bundle --rpc "
            "would fail this round"))
    if node:
        return m.CheckLine(name=name, status="warn", text=(
            f"{total - node} of {total} verified here; {node} contract wallet(s) can only be "
            "checked against a node (por-verify bundle --rpc)"))
    return m.CheckLine(name=name, status="ok", text=(
        f"all {total} wallets signed this round's challenge (checked here without a node)"))


def _witness_line(check: AttestationCheck) -> m.CheckLine:
    """The witnesses' co-signatures of the round's tree head, from the bundle check."""
    name = "Witnesses"
    report = check.check.report
    codes = {f.code for f in check.findings}
    if codes & _WITNESS_CODES:
        why = "; ".join(f.message for f in check.findings if f.code in _WITNESS_CODES)
        return m.CheckLine(name=name, status="fail", text=(
            f"NOT co-signed by enough witnesses known to this server: {why}"))
    if report is None:
        return m.CheckLine(name=name, status="warn", text="not checked")
    signed = [p for p in report.passed if p.startswith(COSIGNED_BY)]
    quorum = next((p for p in report.passed if p.startswith("witness quorum met")), None)
    if quorum is None:
        return m.CheckLine(name=name, status="warn", text=(
            "none known to this server: nothing here shows that the log's tree head is the "
            "one everyone else sees (por-verify proof --bundle --witness-key checks it)"))
    known = check.check.known_witnesses
    names = ", ".join(p.removeprefix(COSIGNED_BY).strip() for p in signed)
    return m.CheckLine(name=name, status="ok", text=(
        f"co-signed by {len(signed)} of {known} known witnesses"
        + (f" ({names})" if names else "")
        + f"; {quorum}: they saw this tree head extend every earlier one they saw"))


def freshness_line(fresh: Freshness | None) -> m.CheckLine:
    """The log's latest signed head at the server's clock, in words for the public: fails
    exactly when ``por-verify bundle`` (the clock as now) would call a bundle of it stale."""
    name = "Fresh log"
    if fresh is None:
        return m.CheckLine(name=name, status="warn", text=(
            "the exchange has not published a signed log head"))
    when = format_time(fresh.head_time)
    if not fresh.ok:
        return m.CheckLine(name=name, status="fail", text=(
            f"the exchange has not published a fresh signed log head for {fresh.days} days "
            f"(latest {when}; at most {fresh.max_age.days} days allowed): por-verify bundle "
            "reports its bundles as stale"))
    return m.CheckLine(name=name, status="ok", text=(
        f"the exchange's latest signed log head was made {when}, {fresh.days} days ago "
        f"(at most {fresh.max_age.days} days allowed)"))


def headline(check: AttestationCheck | None, solvency: list[m.AssetSolvency],
             wallets: m.WalletList | None, fresh: Freshness | None = None) -> m.Headline:
    """The round's verdict in words: from the verifier's bundle check and the figures as
    signed (or, for a round not attested yet, as recomputed from the files), stated as of
    its tree head's time; ``fresh``: the log's latest head now, a line of its own."""
    att = check.attestation if check else None
    lines: list[tuple[str, int, str | None, int, int]] = (
        [(s.symbol, s.decimals, s.ratio, s.shortfall, s.liabilities) for s in att.solvency]
        if att else
        [(s.symbol, s.decimals, s.ratio, int(s.shortfall), int(s.liabilities))
         for s in solvency])
    short = [m.Shortfall(symbol=sym, amount=f"{trim_units(gap, dec)} {sym}",
                         percent=percent_short(ratio))
             for sym, dec, ratio, gap, _ in lines if gap]
    covered, total = len(lines) - len(short), len(lines)
    checks: list[m.CheckLine] = []
    if check is None:
        state, title = "not-attested", "Not attested yet"
        summary = ("The exchange has not signed a statement for this round yet; the figures "
                   "below are computed from its files and have not been checked.")
    else:
        verdict = check.check.verdict
        codes = {f.code for f in check.findings}
        if verdict == "not-in-log":
            state, title = "not-in-log", "Signed, not published in the log yet"
            summary = ("The exchange signed this round, but it is not in its public log yet, "
                       "so it has not been checked. Do not rely on it until it is.")
        elif verdict != "verified":
            state = "failed"
            title = "Check failed: do not rely on these figures"
            summary = ("The check of this round's published files failed; the reasons are "
                       "listed below. The figures are shown as the exchange signed them.")
        elif not short:
            state, title = "covered", f"Covered: {covered} of {total} assets"
            summary = ("For every asset, the exchange holds at least what it owes its users, "
                       "by its own signed statement, checked against its published files.")
        else:
            state = "under-reserved"
            title = "Under-reserved: " + "; ".join(
                f"{s.symbol}, short {s.amount} ({s.percent} covered)" for s in short)
            summary = (f"{covered} of {total} assets are covered. The exchange itself states "
                       "that it holds less than it owes its users in "
                       + ", ".join(s.symbol for s in short) + ".")
        signer = next((s for s in check.signers if s.role == "exchange"), None)
        if verdict in ("malformed", "not-in-log"):
            checks.append(m.CheckLine(name="Signatures", status="warn",
                                      text="not checked: there is no well-formed bundle"))
        elif codes & _SIGNATURE_CODES:
            checks.append(m.CheckLine(name="Signatures", status="fail", text=(
                "the exchange's signature or key list does NOT check out")))
        else:
            label = f" ({signer.label})" if signer and signer.label else ""
            checks.append(m.CheckLine(name="Signatures", status="ok", text=(
                f"signed by the exchange's published key {signer.key_id[:16] if signer else ''}"
                f"…{label}")))
        auditors = [s for s in check.signers if s.role == "auditor"]
        if codes & _AUDITOR_CODES:
            checks.append(m.CheckLine(name="Auditors", status="fail", text=(
                "a co-signature by an auditor this server knows is missing or does not "
                "verify")))
        elif auditors and verdict in ("verified", "failed"):
            checks.append(m.CheckLine(name="Auditors", status="ok", text=(
                "co-signed by " + ", ".join(a.label or a.key_id[:16] for a in auditors))))
        elif verdict in ("malformed", "not-in-log"):
            checks.append(m.CheckLine(name="Auditors", status="warn", text="not checked"))
        else:
            checks.append(m.CheckLine(name="Auditors", status="warn", text=(
                "no co-signature by an auditor known to this server")))
        if codes & _LOG_CODES:
            checks.append(m.CheckLine(name="Public log", status="fail" if verdict != "not-in-log"
                                      else "warn", text=(
                "not consistent: " + ", ".join(sorted(codes & _LOG_CODES))
                if verdict != "not-in-log" else "not in the log yet")))
        elif verdict in ("verified", "failed"):  # every check ran; none of the log's failed
            index = check.stored.log_index or 0
            linked = "" if index == 0 else ", linked to the previous round's entry"
            checks.append(m.CheckLine(name="Public log", status="ok", text=(
                f"entry {index} of the exchange's append-only log{linked}")))
        else:
            checks.append(m.CheckLine(name="Public log", status="warn", text="not checked"))
        checks.append(_witness_line(check))
        other = codes - _SIGNATURE_CODES - _AUDITOR_CODES - _LOG_CODES
        if verdict == "verified":
            margin = att is not None and att.liabilities.margin
            checks.append(m.CheckLine(name="Figures", status="ok", text=(
                "every figure recomputed; root.json, "
                + ("risk.json (prices and haircuts) " if margin else "")
                + "and the reserves file are the ones signed")))
        elif other:
            checks.append(m.CheckLine(name="Figures and files", status="fail",
                                      text="do NOT match: " + ", ".join(sorted(other))))
    checks.append(m.CheckLine(name="Chains re-read", status="warn", text=(
        "not by this page: the balances are as the exchange read them at the snapshot "
        "blocks; re-read them from your own node with por-verify bundle --rpc")))
    wallet_line = _wallet_line(wallets)
    checks.append(wallet_line)
    if wallet_line.status == "fail" and state in ("covered", "under-reserved"):
        summary += (" But some wallets' signatures do not verify (see below): their balances "
                    "are counted, and could not be confirmed on a chain.")
    as_of = check.check.as_of if check else None
    if as_of is not None:
        summary += (f" Checked as of its tree head {format_time(as_of)} (the log's signed "
                    "head for this round); whether the log is still fresh is said apart.")
    return m.Headline(state=state, title=title, summary=summary,  # type: ignore[arg-type]
                      covered=covered, assets=total, short=short, checks=checks,
                      as_of=format_time(as_of) if as_of else None,
                      freshness=freshness_line(fresh) if check is not None else None)


def _not_counted(message: str, source: str, asset: str, symbols: set[str]) -> str | None:
    """Why the attestation's counting rule (spec §13.3, ``reserves_figures``) leaves a
    balance out of the reserves; None when it counts it."""
    if asset not in symbols:
        return "not counted: an asset the reserves file does not list"
    if source == SOURCE_REPORTED:
        return "not counted: reported by the exchange, not read from a node"
    if source != SOURCE_NODE:
        return f"not counted: source {source!r}"
    if message == "static":
        return ("not counted: the wallet signed a static message, which proves control at "
                "some past time only")
    return None


def _envelope(payload: bytes, signatures: list[tuple[str, bytes]]) -> m.SignedEnvelope:
    return m.SignedEnvelope(
        scheme="por-signed",
        version=1,
        payload=b64(payload),
        signatures=[m.SignatureOut(key_id=k, signature=s.hex()) for k, s in signatures],
    )


def _public_key(key: PublicKey) -> dict[str, str]:
    return {"key_id": key.key_id, "label": key.label, "public_key": key.raw.hex()}


def _tree_head(sth: SignedTreeHead) -> m.TreeHeadOut:
    h = sth.head
    return m.TreeHeadOut(
        log=h.log,
        tree_size=h.tree_size,
        root_hash=h.root_hash.hex(),
        timestamp=format_time(h.timestamp),
        key_id=h.key_id,
        signed=_envelope(
            sth.signed.payload, [(s.key_id, s.signature) for s in sth.signed.signatures]
        ),
    )


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the application over ``settings`` (from the environment when None).

    Raises:
        InputError: the database URL is unusable or the store cannot be migrated.
    """
    settings = settings or Settings.from_env()
    engine = None
    if settings.database_url:
        from por.store.db import open_store

        engine = open_store(settings.database_url)
    auditors = tuple(load_public_key(path) for path in settings.auditor_keys)
    witnesses = tuple(load_public_key(path) for path in settings.witness_keys)
    known = len({w.key_id for w in witnesses})
    if settings.witness_quorum is not None and not 0 <= settings.witness_quorum <= known:
        raise InputError(f"--witness-quorum {settings.witness_quorum}: expected 0..{known}, "
                         "the number of distinct --witness-key given")
    if settings.private_proof_cache < 0:
        raise InputError(f"--private-cache {settings.private_proof_cache}: expected 0 (none) "
                         "or more private proofs kept")
    pub = Publication(engine, settings.rounds_dir, settings.keylist, auditors, witnesses,
                      settings.witness_quorum)
    limiter = RateLimiter(settings.proof_rate_per_minute, settings.proof_burst)
    for name in ("uvicorn.access", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _RedactTokens) for f in logger.filters):
            logger.addFilter(_RedactTokens())

    app = _PorAPI(
        title="por-toolkit proof-of-reserves API",
        version="1",
        description="Published rounds, reserves, the transparency log, and each user's own"
        " inclusion proof by token. Amounts are decimal strings of integers in base units.",
        docs_url=None,
        redoc_url=None,
    )
    app.state.publication = pub
    app.state.limiter = limiter
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")

    @app.exception_handler(Unavailable)
    async def unavailable(_request: Request, exc: Unavailable) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    missing: dict[int | str, dict[str, Any]] = {404: {"model": m.Problem}}

    def round_out(round_id: str) -> m.RoundOut:
        _, summary = pub.root(round_id)
        stored = pub.stored_rounds().get(round_id)
        try:
            reserves: LoadedReserves | None = pub.reserves(round_id)
        except Unavailable:
            reserves = None
        try:
            checked: AttestationCheck | None = pub.attestation_check(round_id)
        except Unavailable:
            checked = None
        attestation = checked.stored if checked else None
        try:
            wallet_list: m.WalletList | None = wallets_out(round_id) if reserves else None
        except Unavailable:
            wallet_list = None
        solvency = _solvency(summary, reserves)
        base = f"{API}/rounds/{round_id}"
        # The bundle is built from the store: it needs the attestation in the log and the
        # key list it is checked against.
        bundle = (attestation is not None and attestation.log_index is not None
                  and settings.keylist is not None)
        return m.RoundOut(
            round=round_id,
            exchange=stored.exchange if stored else (reserves.file.exchange if reserves else None),
            created_at=stored.created_at if stored else None,
            liabilities=m.LiabilitiesRoot.model_validate(summary.to_dict()),
            solvency=solvency,
            snapshots=[
                m.ChainSnapshotOut(
                    chain=c.name,
                    kind=c.kind,
                    network=c.network,
                    height=c.height or 0,
                    block_hash=c.block_hash or "",
                )
                for c in (reserves.file.chains if reserves else ())
            ],
            reserves_published=reserves is not None,
            attestation_published=attestation is not None,
            # The attestation's own signer is its first signature; the rest are co-signers.
            cosigners=[k for k, _ in attestation.signatures[1:]] if attestation else [],
            attestation=_signed_out(checked) if checked else None,
            headline=headline(checked, solvency, wallet_list, pub.freshness()),
            links=m.RoundLinks(
                liabilities_root=f"{base}/liabilities-root",
                reserves=f"{base}/reserves" if reserves else None,
                wallets=f"{base}/wallets" if reserves else None,
                attestation=f"{base}/attestation" if attestation else None,
                bundle=f"{base}/bundle" if bundle else None,
                risk=f"{base}/risk" if isinstance(summary, MarginRootSummary) else None,
            ),
            privacy=_privacy(summary),
        )

    def wallets_out(round_id: str) -> m.WalletList:
        loaded = pub.reserves(round_id)
        chains = {c.name: c for c in loaded.file.chains}
        symbols = {a.symbol for a in loaded.file.assets}
        out = []
        for wallet, check in zip(loaded.file.wallets, loaded.checks, strict=True):
            chain = chains.get(wallet.chain)
            kind, network = (chain.kind, chain.network) if chain else ("unknown", "unknown")
            url = EXPLORERS.get((kind, network))
            sig = wallet.signature
            out.append(
                m.WalletOut(
                    chain=wallet.chain,
                    kind=kind,
                    network=network,
                    address=wallet.address,
                    custody=wallet.custody.kind,
                    assets=list(wallet.assets),
                    message=wallet.message,
                    signed_message=wallet.signed_message,
                    signature_scheme=sig.scheme if sig else None,
                    signature=(list(sig.value) if isinstance(sig.value, tuple) else sig.value)
                    if sig
                    else None,
                    balances=[
                        m.BalanceOut(asset=b.asset, amount=str(b.amount), source=b.source,
                                     counted=(why := _not_counted(wallet.message, b.source,
                                                                  b.asset, symbols)) is None,
                                     not_counted=why)
                        for b in wallet.balances
                    ],
                    signature_check=check.status,  # type: ignore[arg-type]
                    check_note=check.note,
                    explorer_url=url.format(address=wallet.address) if url else None,
                )
            )
        return m.WalletList(round=round_id, exchange=loaded.file.exchange, wallets=out)

    # --- the JSON API ----------------------------------------------------------------------

    @app.get(f"{API}/ping", response_model=m.Pong, tags=["service"])
    def ping() -> m.Pong:
        """Liveness: the service answers."""
        return m.Pong(ok=True)

    @app.get(f"{API}/rounds", response_model=m.RoundList, tags=["rounds"])
    def rounds() -> m.RoundList:
        """Every published round, newest first, with its solvency figures."""
        out = []
        for round_id in pub.round_ids():
            try:
                out.append(round_out(round_id))
            except Unavailable:
                continue  # removed or replaced between the listing and the read
        return m.RoundList(rounds=out)

    @app.get(f"{API}/rounds/{{round_id}}", response_model=m.RoundOut, responses=missing,
             tags=["rounds"])
    def round_detail(round_id: RoundId) -> m.RoundOut:
        """One round."""
        return round_out(round_id)

    @app.get(
        f"{API}/rounds/{{round_id}}/liabilities-root",
        response_model=m.LiabilitiesRoot,
        responses=missing,
        tags=["rounds"],
    )
    def liabilities_root(round_id: RoundId) -> Response:
        """The round's root summary (root.json), its exact published bytes."""
        raw, _ = pub.root(round_id)
        return Response(raw, media_type="application/json")

    @app.get(
        f"{API}/rounds/{{round_id}}/reserves",
        responses={200: {"content": {"application/json": {"schema": {"type": "object"}}},
                         "description": "The reserves file (spec §11.1), exact bytes."},
                   **missing},
        tags=["rounds"],
    )
    def reserves_file(round_id: RoundId) -> Response:
        """The round's reserves file, its exact published bytes (spec §11.1)."""
        return Response(pub.reserves(round_id).file.raw_bytes, media_type="application/json")

    @app.get(
        f"{API}/rounds/{{round_id}}/risk",
        response_class=Response,
        responses={200: {"content": {"application/json": {}}}, **missing},
        tags=["rounds"],
    )
    def risk_file(round_id: RoundId) -> Response:
        """A margin round's risk.json (prices and haircuts), exact bytes (spec §15.5)."""
        return Response(pub.risk(round_id), media_type="application/json")

    @app.get(f"{API}/rounds/{{round_id}}/wallets", response_model=m.WalletList,
             responses=missing, tags=["rounds"])
    def wallets(round_id: RoundId) -> m.WalletList:
        """Every wallet of the round's reserves file with the server's signature check."""
        return wallets_out(round_id)

    @app.get(f"{API}/rounds/{{round_id}}/attestation", response_model=m.AttestationOut,
             responses=missing, tags=["attestations"])
    def attestation(round_id: RoundId) -> m.AttestationOut:
        """The round's signed attestation: exact payload bytes and every signature."""
        found = pub.attestation(round_id)
        return m.AttestationOut(
            round=found.round_id,
            payload_sha256=found.payload_sha256,
            signed=_envelope(found.payload, list(found.signatures)),
            log_index=found.log_index,
        )

    @app.get(f"{API}/rounds/{{round_id}}/attestation/inclusion",
             response_model=m.LogInclusionOut, responses=missing, tags=["attestations"])
    def attestation_inclusion(
        round_id: RoundId, tree_size: Annotated[int | None, Query(ge=1, le=MAX_SIZE)] = None
    ) -> m.LogInclusionOut:
        """The log inclusion proof of the round's attestation (in the latest tree by
        default)."""
        found = pub.attestation(round_id)
        if found.log_index is None:
            raise Unavailable("the attestation is not in the log yet")
        size = tree_size or pub.latest_tree_head().head.tree_size
        return _inclusion(found.log_index, size)

    @app.get(f"{API}/rounds/{{round_id}}/bundle", responses={
        200: {"content": {"application/zip": {}}, "description": "The round's bundle."},
        **missing}, tags=["attestations"])
    def bundle(round_id: RoundId) -> Response:
        """The round's published bundle as one zip, for ``por-verify bundle``."""
        data = pub.bundle_zip(round_id)
        return Response(
            data,
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="por-bundle-{round_id}.zip"'},
        )

    @app.get(f"{API}/keys", responses={
        200: {"content": {"application/json": {"schema": {"type": "object"}}},
              "description": "The key list (spec §12.3), exact bytes."}, **missing},
        tags=["log"])
    def keys() -> Response:
        """The exchange's published key list, its exact bytes."""
        return Response(pub.keylist(), media_type="application/json")

    @app.get(f"{API}/log/tree-head", response_model=m.TreeHeadOut, responses=missing,
             tags=["log"])
    def latest_head() -> m.TreeHeadOut:
        """The log's latest signed tree head."""
        return _tree_head(pub.latest_tree_head())

    @app.get(f"{API}/log/tree-heads/{{tree_size}}", response_model=m.TreeHeadOut,
             responses=missing, tags=["log"])
    def head_of_size(tree_size: Size) -> m.TreeHeadOut:
        """The signed tree head of ``tree_size``."""
        return _tree_head(pub.tree_head(tree_size))

    @app.get(f"{API}/log/entries/{{leaf_index}}", response_model=m.LogEntryOut,
             responses=missing, tags=["log"])
    def log_entry(leaf_index: Size) -> m.LogEntryOut:
        """A log entry's exact bytes (an attestation's signed payload)."""
        leaf, entry = pub.log_entry(leaf_index)
        return m.LogEntryOut(leaf_index=leaf_index, leaf_hash=leaf.hex(), entry=b64(entry))

    def _inclusion(index: int, size: int) -> m.LogInclusionOut:
        proof = pub.inclusion(index, size)
        return m.LogInclusionOut(
            scheme="por-log-inclusion",
            version=1,
            leaf_index=proof.leaf_index,
            tree_size=proof.tree_size,
            proof=[h.hex() for h in proof.proof],
        )

    @app.get(f"{API}/log/entries/{{leaf_index}}/inclusion", response_model=m.LogInclusionOut,
             responses=missing, tags=["log"])
    def entry_inclusion(
        leaf_index: Size, tree_size: Annotated[int, Query(ge=1, le=MAX_SIZE)]
    ) -> m.LogInclusionOut:
        """The RFC 9162 inclusion proof of an entry in the tree of ``tree_size``."""
        return _inclusion(leaf_index, tree_size)

    @app.get(f"{API}/log/consistency", response_model=m.LogConsistencyOut, responses=missing,
             tags=["log"])
    def consistency(
        old_size: Annotated[int, Query(ge=1, le=MAX_SIZE)],
        new_size: Annotated[int, Query(ge=1, le=MAX_SIZE)],
    ) -> m.LogConsistencyOut:
        """The RFC 9162 consistency proof between two signed tree sizes."""
        proof = pub.consistency(old_size, new_size)
        return m.LogConsistencyOut(
            scheme="por-log-consistency",
            version=1,
            old_size=proof.old_size,
            new_size=proof.new_size,
            proof=[h.hex() for h in proof.proof],
        )

    @app.get(
        f"{API}/proofs/{{token}}",
        response_model=m.UserProof,
        responses={404: {"model": m.Problem}, 429: {"model": m.Problem},
                   503: {"model": m.Problem}},
        tags=["proofs"],
    )
    async def proof(token: str, request: Request) -> Response:
        """The inclusion proof that ``token`` opens, and nothing else.

        Any token that opens no proof (wrong, unknown, malformed, another round's revoked
        one) gets the answer of a path that does not exist, after the same steps.
        """
        # Documents the route, and answers what ProofRoute leaves to the router (under a
        # root path): one function makes every answer.
        return _Answer(*await answer_proof(token, request.client.host if request.client
                                           else "unknown"))

    # A private round's proofs (spec §16.16): made per request on at most two threads (80
    # range proofs at 2^20 leaves x 4 assets, the library releasing the GIL), the last few
    # answers kept per token (by its lookup key, and only while the same index is served).
    private_threads = anyio.CapacityLimiter(2)
    private_cache: OrderedDict[bytes, tuple[TokenIndex, bytes]] = OrderedDict()
    private_cache_size = settings.private_proof_cache  # 0: every answer made anew

    async def private_answer(index: TokenIndex, key: bytes, record: TokenRecord
                             ) -> tuple[int, list[RawHeader], bytes]:
        hit = private_cache.get(key)
        if hit is not None and hit[0] is index:
            private_cache.move_to_end(key)
            return 200, _headers(hit[1]), hit[1]
        try:
            text = await anyio.to_thread.run_sync(index.proof_text, record,
                                                  limiter=private_threads)
        except ServingUnavailable as e:  # no [private] extra: fail closed, and say why
            body = _json_body(str(e))
            return 503, _headers(body), body
        except PorError:
            return 503, _headers(_CANNOT_SERVE), _CANNOT_SERVE
        if private_cache_size:
            private_cache[key] = (index, text)
            private_cache.move_to_end(key)
            while len(private_cache) > private_cache_size:
                private_cache.popitem(last=False)
        return 200, _headers(text), text

    async def answer_proof(token: str, client: str) -> tuple[int, list[RawHeader], bytes]:
        """Status, raw headers and body of ``GET /api/v1/proofs/{token}`` from ``client``."""
        wait = limiter.allow(client)
        if wait:
            return 429, _headers(_LIMITED, (b"retry-after", b"%d" % (int(wait) + 1))), _LIMITED
        for index in pub.token_indexes():
            record = index.lookup(token)
            if record is None:
                continue
            if index.private:
                return await private_answer(index, token_id(token), record)
            try:
                # The reference's bytes, checked against the published root before anything
                # is sent (one helper: TokenIndex.proof_text, spot or margin).
                text = index.proof_text(record)
            except PorError:
                return 503, _headers(_CANNOT_SERVE), _CANNOT_SERVE
            return 200, _headers(text), text
        return 404, _headers(_NOT_FOUND), _NOT_FOUND

    app.add_middleware(ProofRoute, answer=answer_proof)

    # --- the page ----------------------------------------------------------------------------

    def page(request: Request, round_id: str | None) -> HTMLResponse:
        ids = pub.round_ids()
        history = []
        for rid in reversed(ids):
            try:
                history.append(round_out(rid))
            except Unavailable:
                continue
        current = None
        if round_id is not None:
            current = round_out(round_id)
        elif history:
            current = history[-1]
        wallet_list = None
        rpc_names: list[str] = []
        if current is not None:
            chains = (current.attestation.chains if current.attestation
                      and current.attestation.chains else current.snapshots)
            rpc_names = [c.name if isinstance(c, m.SignedChain) else c.chain for c in chains]
        auditor_names = [
            re.sub(r"[^a-z0-9]+", "-", k.label.lower()).strip("-") + ".pub.json"
            for k in pub.auditor_keys.values()]
        if current is not None and current.reserves_published:
            try:
                wallet_list = wallets_out(current.round)
            except Unavailable:
                wallet_list = None
        try:
            head = _tree_head(pub.latest_tree_head())
        except Unavailable:
            head = None
        # What the in-browser verifier checks a proof against: each attested round's exact
        # signed payload and signatures, and the public keys to check them with.
        signed: dict[str, Any] = {}
        for r in history:
            if r.attestation_published:
                try:
                    found = pub.attestation(r.round)
                except Unavailable:
                    continue
                signed[r.round] = _envelope(found.payload, list(found.signatures)).model_dump()
        try:
            keylist_raw, keylist = pub.keys()
            exchange_keys = [_public_key(e.key) for e in keylist.entries]
            keylist_text: str | None = keylist_raw.decode("utf-8")
        except (Unavailable, UnicodeDecodeError):
            exchange_keys, keylist_text = [], None
        data = {
            "current": current.model_dump(mode="json") if current else None,
            "history": [r.model_dump(mode="json") for r in history],
            "attestations": signed,
            "keys": exchange_keys,
            "keylist": keylist_text,  # exact bytes: the browser checks its rotation chain
            "auditors": [_public_key(k) for k in pub.auditor_keys.values()],
        }
        decimals = {}
        if current is not None:
            decimals = {a.symbol: a.decimals for a in current.liabilities.assets}
        return templates.TemplateResponse(
            request,
            "index.html",
            {
                "current": current,
                "history": history,
                "wallets": wallet_list,
                "head": head,
                "decimals": decimals,
                "format_units": format_units,
                "units": lambda amount, dec: format_units(int(amount), dec),
                "percent": percent,
                "data": data,
                "rpc_names": rpc_names,
                "auditor_names": auditor_names,
            },
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def index(request: Request) -> HTMLResponse:
        return page(request, None)

    @app.get("/rounds/{round_id}", response_class=HTMLResponse, include_in_schema=False)
    def round_page(request: Request, round_id: str) -> HTMLResponse:
        return page(request, round_id)

    return app
