"""RFC 8785 (JCS) canonical JSON: the only byte form a signed payload may take.

A payload is signed as received and never re-encoded before a check (tuf's
``Metadata.to_bytes`` warning); :func:`parse_canonical` parses strictly and refuses bytes
that are not already canonical, so one document has exactly one signed form.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import rfc8785

from verifier.encoding import strictjson as sj
from verifier.errors import FormatError, UsageError

# RFC 3339 §5.6 in UTC, whole seconds, "Z": one spelling per instant.
_TIME_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")


def canonical_bytes(document: Mapping[str, Any]) -> bytes:
    """Encode ``document`` as RFC 8785 canonical JSON.

    Raises:
        UsageError: the document holds something JCS cannot encode exactly (a float, an
            integer beyond 2^53, a non-string key): amounts must be decimal strings.
    """
    try:
        return rfc8785.dumps(document)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as e:
        raise UsageError(f"document cannot be canonicalised: {e}") from e


def parse_canonical(payload: bytes, what: str) -> dict[str, Any]:
    """Parse a signed payload strictly and check it is canonical JSON of an object.

    Raises:
        FormatError: not strict JSON, not an object, or not in RFC 8785 canonical form.
    """
    value = sj.loads(payload, what)
    if not isinstance(value, dict):
        raise FormatError(f"{what}: expected a JSON object, found {type(value).__name__}")
    try:
        canonical = rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as e:
        raise FormatError(f"{what}: not encodable as RFC 8785 canonical JSON: {e}") from e
    if canonical != payload:
        raise FormatError(
            f"{what}: payload is not in RFC 8785 canonical form (keys sorted, no spaces,"
            " minimal escapes); refusing a second spelling of a signed document"
        )
    return value


def check_scheme(data: Mapping[str, Any], where: str, scheme: str, version: int) -> None:
    """Check the document's ``scheme`` and ``version`` are the ones expected.

    Raises:
        FormatError: another scheme or version (never guessed at).
    """
    found = sj.string(data.get("scheme"), f"{where}.scheme")
    found_version = sj.integer(data.get("version"), f"{where}.version")
    if found != scheme or found_version != version:
        raise FormatError(
            f"{where}: scheme {found!r} version {found_version} is not the expected"
            f" {scheme!r} version {version}"
        )


def parse_time(value: Any, where: str) -> datetime:
    """Parse an RFC 3339 UTC time ``YYYY-MM-DDTHH:MM:SSZ``.

    Raises:
        FormatError: another spelling, or not a real date and time.
    """
    text = sj.string(value, where)
    if not _TIME_RE.fullmatch(text):
        raise FormatError(f"{where}: expected a UTC time like 2026-11-25T12:00:00Z, found {text!r}")
    try:
        return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError as e:
        raise FormatError(f"{where}: {text!r} is not a valid time: {e}") from e


def format_time(moment: datetime) -> str:
    """The RFC 3339 UTC spelling used in signed documents (whole seconds).

    Raises:
        UsageError: ``moment`` has no time zone.
    """
    if moment.tzinfo is None:
        raise UsageError("times in signed documents must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
