"""The JSON-RPC transport to chain nodes: HTTP(S) with urllib, a timeout per call, bounded
retries with back-off (spec §11.4).

Only this module talks to the network; the readers (:mod:`verifier.reserves.chains`) build
calls and parse answers. Credentials go in a header and never in a message.
"""

from __future__ import annotations

import base64
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from decimal import Decimal
from typing import Any

from verifier.encoding.strictjson import check_depth
from verifier.errors import FormatError, PorError
from verifier.reserves.endpoints import auth_env_name, redact


def _no_constant(name: str) -> Any:
    raise ValueError(f"JSON constant {name}")


class NodeError(PorError):
    """A chain node could not be reached or gave an unusable answer (CLI exit code 2)."""


class NodeAnswerError(NodeError):
    """The node answered with a JSON-RPC error (a reverted call, an unknown transaction)."""


class JsonRpcClient:
    """JSON-RPC 2.0 over HTTP(S) with urllib: a timeout per call and bounded retries.

    Credentials (``auth="user:password"``, or for programmatic callers in the URL) become a
    Basic auth header and never appear in an error message; the command lines refuse them
    in URLs (:mod:`verifier.reserves.endpoints`).
    """

    def __init__(
        self, url: str, *, name: str = "", timeout: float = 10.0, retries: int = 2,
        backoff: float = 0.25, auth: str | None = None,
    ) -> None:
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port
        except ValueError as e:
            raise NodeError(f"node {name or '?'}: {redact(url)} is not a URL") from e
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise NodeError(f"node {name or '?'}: {redact(url)} is not an http(s) URL")
        self._headers = {"Content-Type": "application/json"}
        if parts.username is not None:
            if auth is not None:
                raise NodeError(f"node {name or '?'}: credentials both in the URL and given")
            auth = (urllib.parse.unquote(parts.username) + ":"
                    + urllib.parse.unquote(parts.password or ""))
        if auth is not None:
            token = base64.b64encode(auth.encode()).decode()
            self._headers["Authorization"] = f"Basic {token}"
        host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
        netloc = host + (f":{port}" if port else "")
        self._url = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path or "/", "", ""))
        self.name = f"{name + ' ' if name else ''}node {redact(url)}"
        self._chain = name
        self._timeout = timeout
        self._retries = retries
        self._backoff = backoff
        self._id = 0

    def call(self, method: str, params: list[Any]) -> Any:
        """Call ``method``; return its ``result``. Floats in the answer become ``Decimal``.

        Retries (at most ``retries`` times) only when the node could not be reached or
        answered with an HTTP 5xx; a JSON-RPC error answer is final.

        Raises:
            NodeError: unreachable after the retries, timed out, not JSON-RPC, or an error.
        """
        self._id += 1
        body = json.dumps(
            {"jsonrpc": "2.0", "id": self._id, "method": method, "params": params}
        ).encode()
        where = f"{self.name}, call {method}"
        last: Exception | None = None
        for attempt in range(self._retries + 1):
            if attempt:
                time.sleep(self._backoff * 2 ** (attempt - 1))
            request = urllib.request.Request(  # noqa: S310 - scheme checked in __init__
                self._url, data=body, headers=self._headers, method="POST"
            )
            try:
                with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                    payload = response.read(64 * 1024 * 1024)
            except urllib.error.HTTPError as e:
                if e.code >= 500:
                    # Bitcoin Core answers RPC errors with HTTP 500 and a JSON body.
                    try:
                        payload = e.read(1024 * 1024)
                    except OSError:
                        payload = b""
                    if payload.startswith(b"{"):
                        break
                    last = e
                    continue
                hint = ""
                if e.code in (401, 403):
                    chain = self._chain or "NAME"
                    hint = (f" (wrong or missing credentials: set {auth_env_name(chain)} or "
                            f"--rpc-cookie {chain}=PATH)")
                raise NodeError(f"{where}: HTTP {e.code} {e.reason}{hint}") from e
            except (urllib.error.URLError, TimeoutError, OSError) as e:
                last = e
                continue
            break
        else:
            raise NodeError(
                f"{where}: no answer after {self._retries + 1} attempts: {last}"
            ) from last
        return self._result(payload, where)

    def _result(self, payload: bytes, where: str) -> Any:
        try:
            text = payload.decode("utf-8")
            # A node answering deeply nested JSON could crash the C decoder (strictjson).
            check_depth(text, where)
            answer = json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
        except FormatError as e:
            raise NodeError(f"{where}: the answer is not usable JSON: {e}") from e
        except (ValueError, RecursionError) as e:  # bad UTF-8, JSONDecodeError, huge ints
            raise NodeError(f"{where}: the answer is not JSON: {payload[:80]!r}") from e
        if not isinstance(answer, dict) or ("result" not in answer and "error" not in answer):
            raise NodeError(f"{where}: the answer is not a JSON-RPC response: {payload[:80]!r}")
        if answer.get("error") is not None:
            raise NodeAnswerError(f"{where}: the node answered an error: {answer['error']}")
        return answer["result"]
