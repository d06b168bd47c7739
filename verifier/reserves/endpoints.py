"""Node endpoints of the reserves commands: URLs from the command line, credentials elsewhere.

Owns the rule of spec §11.4 that a node's password never travels on a command line (where
``ps``, shell history and CI logs show it) nor in a message: ``--rpc NAME=URL`` must carry no
user or password, and the credentials of chain NAME come from the environment variable
``POR_RPC_<NAME>_AUTH`` (``user:password``) or from a file named by ``--rpc-cookie NAME=PATH``
(one line ``user:password``, the format of Bitcoin Core's ``.cookie``) that others cannot
read or write. A node URL with a path or a query (``https://eth.example/v2/API-KEY``, where
hosted node providers put the key) is refused on the command line too: ``--rpc NAME`` without
``=URL`` takes it from ``POR_RPC_<NAME>_URL``. Messages name a node by scheme, host and port
only (:func:`redact`). Pure functions over strings, a mapping of the environment and
``os.stat``.
"""

from __future__ import annotations

import os
import stat
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from verifier.errors import FormatError

AUTH_ENV_PREFIX = "POR_RPC_"
AUTH_ENV_SUFFIX = "_AUTH"
URL_ENV_SUFFIX = "_URL"
MAX_COOKIE_BYTES = 4096


def auth_env_name(chain: str) -> str:
    """The environment variable holding chain ``chain``'s credentials.

    ``litecoin-regtest`` -> ``POR_RPC_LITECOIN_REGTEST_AUTH`` (upper case, ``-`` -> ``_``).
    """
    return f"{AUTH_ENV_PREFIX}{chain.upper().replace('-', '_')}{AUTH_ENV_SUFFIX}"


def url_env_name(chain: str) -> str:
    """The environment variable holding chain ``chain``'s node URL (``POR_RPC_<NAME>_URL``)."""
    return f"{AUTH_ENV_PREFIX}{chain.upper().replace('-', '_')}{URL_ENV_SUFFIX}"


def redact(url: str) -> str:
    """``url`` as messages show it: scheme, host and port; a path becomes ``/…``.

    User, password, path, query and fragment are dropped: hosted node providers put API
    keys in the path (``/v2/KEY``) or the query (``?apikey=KEY``).
    """
    try:
        parts = urllib.parse.urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<unparsable URL>"
    path = parts.path if parts.path in ("", "/") else "/…"
    hidden = "?…" if parts.query or parts.fragment else ""
    return f"{parts.scheme}://{parts.hostname or '?'}{port}{path}{hidden}"


def has_secret_part(url: str) -> bool:
    """Whether ``url`` has a path beyond ``/``, a query or a fragment (where keys travel)."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return True
    return parts.path not in ("", "/") or bool(parts.query) or bool(parts.fragment)


@dataclass(frozen=True)
class Endpoint:
    """A node of one chain: its URL (never with credentials) and its ``user:password``.

    ``auth`` is left out of ``repr`` so that a traceback or a debug print cannot show it.
    """

    name: str
    url: str
    auth: str | None = field(default=None, repr=False)


def _pairs(values: tuple[str, ...], option: str, what: str,
           environ: Mapping[str, str] | None = None) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if environ is not None and not sep and name and "/" not in name and ":" not in name:
            # --rpc NAME: the URL (which may carry an API key) is in the environment.
            from_env = environ.get(url_env_name(name))
            if not from_env:
                raise FormatError(f"{option} {name}: {url_env_name(name)} is not set; put the "
                                  "node's URL there")
            if name in out:
                raise FormatError(f"{option}: chain {name} given twice")
            out[name] = from_env
            continue
        if not sep or not name or not rest:
            # Never echo the value: it may be a URL with a password or an API key.
            raise FormatError(f"{option}: expected NAME={what}"
                              + (" or NAME (URL in $POR_RPC_<NAME>_URL)" if environ else ""))
        if name in out:
            raise FormatError(f"{option}: chain {name} given twice")
        out[name] = rest
    return out


def read_cookie(path: Path, chain: str) -> str:
    """Read ``user:password`` from a credentials file that only its owner (and group) can read.

    Raises:
        FormatError: missing, not a regular file, readable or writable by others, not one
            ``user:password`` line. The message never contains the file's content.
    """
    where = f"--rpc-cookie {chain}={path}"
    try:
        info = path.stat()
    except OSError as e:
        raise FormatError(f"{where}: cannot be read: {e.strerror}") from e
    if not stat.S_ISREG(info.st_mode):
        raise FormatError(f"{where}: not a regular file")
    mode = stat.S_IMODE(info.st_mode)
    if mode & (stat.S_IROTH | stat.S_IWOTH):
        # A password file that every local user can read is no secret: refuse it rather
        # than use it (ssh refuses a world-readable private key for the same reason).
        raise FormatError(f"{where}: mode {mode:04o} lets other users read or write it; "
                          f"run `chmod 600 {path}`")
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_COOKIE_BYTES + 1)
    except OSError as e:
        raise FormatError(f"{where}: cannot be read: {e.strerror}") from e
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise FormatError(f"{where}: not UTF-8 text") from e
    lines = text.splitlines()
    if len(data) > MAX_COOKIE_BYTES or len(lines) != 1 or ":" not in lines[0]:
        raise FormatError(f"{where}: expected one line user:password (as Bitcoin Core's "
                          ".cookie), found something else")
    return lines[0]


def parse_endpoints(
    rpc: tuple[str, ...], cookies: tuple[str, ...], environ: Mapping[str, str]
) -> dict[str, Endpoint]:
    """Build one endpoint per ``--rpc NAME=URL`` or ``--rpc NAME`` (URL from
    ``$POR_RPC_<NAME>_URL``), with credentials from the environment or a file.

    Raises:
        FormatError: an option is malformed, a URL on the command line carries a user,
            password, path or query (refused without echoing them), ``--rpc NAME`` without
            its environment variable, credentials given twice for a chain, a cookie naming
            a chain without ``--rpc``, or an unusable cookie file.
    """
    urls = _pairs(rpc, "--rpc", "URL", environ)
    argv = {name for name, value in _pairs(
        tuple(v for v in rpc if "=" in v), "--rpc", "URL").items()}
    paths = _pairs(cookies, "--rpc-cookie", "PATH")
    endpoints: dict[str, Endpoint] = {}
    for name, url in urls.items():
        if name in argv and has_secret_part(url):
            raise FormatError(
                f"--rpc {name}={redact(url)}: the URL has a path or a query, where node "
                "providers put API keys, and the command line is no place for them (ps, shell "
                f"history and logs show it): set {url_env_name(name)}=URL in the environment "
                f"and give --rpc {name}")
        try:
            parts = urllib.parse.urlsplit(url)
            has_userinfo = parts.username is not None or parts.password is not None
            _ = parts.port  # raises on a port that is not a number
        except ValueError as e:
            raise FormatError(f"--rpc {name}={redact(url)}: not a URL: {e}") from e
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FormatError(f"--rpc {name}={redact(url)}: expected an http(s) URL")
        if name in argv and (has_userinfo or "@" in parts.netloc):
            raise FormatError(
                f"--rpc {name}={redact(url)}: the URL carries a user name or password, and "
                "credentials are refused on the command line (ps, shell history and logs "
                f"show it): set {auth_env_name(name)}=user:password in the environment, or "
                f"use --rpc-cookie {name}=PATH (a file only you can read)")
        from_env = environ.get(auth_env_name(name))
        auth = None
        if name in paths:
            if from_env is not None:
                raise FormatError(f"chain {name}: credentials both in {auth_env_name(name)} "
                                  "and --rpc-cookie; give one")
            auth = read_cookie(Path(paths[name]), name)
        elif from_env is not None:
            if ":" not in from_env:
                raise FormatError(f"{auth_env_name(name)}: expected user:password")
            auth = from_env
        endpoints[name] = Endpoint(name, url, auth)
    extra = sorted(set(paths) - set(urls))
    if extra:
        raise FormatError(f"--rpc-cookie {extra[0]}=...: no --rpc {extra[0]}=URL given")
    return endpoints


def environment() -> Mapping[str, str]:
    """The process environment (a seam, so tests and callers can pass their own)."""
    return os.environ
