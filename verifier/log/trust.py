"""Trust, time and identity: which key list and which tree head a verifier may rely on
(docs/spec.md §12.2).

Bytes and the verifier's memory in, findings out; "now" is an argument (tuf's
``reference_time``), never read here. The rules:

* An exchange is its identity, the first key id of its key list; a name it picks is a
  label. A key list is anchored by a pinned key id in its chain, or by this verifier's
  memory of that identity (trust on first use), and must continue the chain remembered.
  With neither, it is *unanchored*: a failed check, recorded for next time.
* A second identity under a name this verifier already knows, and a second log of a known
  identity, fail unless the user explicitly accepts them.
* A tree head relied on must be version 2, signed by the key list's *current* key, bind
  this exchange's name and this key list's hash, be dated no later than ``now`` plus
  :data:`CLOCK_SKEW` and no earlier than ``now`` minus the maximum age.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from verifier.encoding.canonical import format_time
from verifier.errors import VerificationError
from verifier.log.state import ANCHOR_FIRST_USE, ANCHOR_PIN, ExchangeMemory, VerifierState
from verifier.log.sth import STH_VERSION, SignedTreeHead
from verifier.signed.keylist import KeyList

DEFAULT_MAX_AGE = timedelta(days=35)
# How far a tree head may be dated after the verifier's "now": clocks differ a little.
CLOCK_SKEW = timedelta(minutes=5)
# What the anchor of a key list is.
ANCHORED_BY_PIN = "pin"
ANCHORED_BY_MEMORY = "memory"
UNANCHORED = "unanchored"


class TrustFailure(VerificationError):
    """A trust rule failed; ``code`` names it in reports (spec §13.5)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class KeyAnchor:
    """How a key list is anchored, and what this verifier remembered of its identity."""

    how: str
    memory: ExchangeMemory | None

    def describe(self, pinned: str | None) -> str:
        """One line for the report."""
        if self.how == ANCHORED_BY_PIN:
            return f"key list contains the pinned key {pinned[:16] if pinned else ''}.."
        if self.how == ANCHORED_BY_MEMORY and self.memory is not None:
            by = ("your pin" if self.memory.anchored_by == ANCHOR_PIN
                  else f"first use on {format_time(self.memory.first_seen)} (trust on first "
                  "use, no pin)")
            return (f"key list continues the chain remembered for this exchange, anchored by "
                    f"{by}")
        return "key list UNANCHORED"


def anchor_key_list(keys: KeyList, state: VerifierState, pinned: str | None,
                    accept_new_identity: bool = False) -> KeyAnchor:
    """Anchor ``keys`` by the pin or by the memory of its identity.

    Raises:
        TrustFailure: ``key-list`` (the pinned key is not in the chain), ``key-anchor``
            (the chain does not continue the remembered one, or another identity is
            remembered under this exchange's name and ``accept_new_identity`` is false).
    """
    if pinned is not None and pinned not in keys.key_ids:
        raise TrustFailure("key-list", f"the pinned key {pinned} is not in the key list's "
                           "chain")
    memory = state.exchanges.get(keys.identity)
    if memory is not None:
        try:
            keys.check_extends(memory.key_ids)
        except VerificationError as e:
            raise TrustFailure("key-anchor", str(e)) from e
        return KeyAnchor(ANCHORED_BY_PIN if pinned else ANCHORED_BY_MEMORY, memory)
    others = [m for m in state.by_name(keys.exchange) if m.identity != keys.identity]
    if others and not accept_new_identity:
        known = others[0]
        raise TrustFailure(
            "key-anchor", f"this verifier remembers exchange {keys.exchange!r} with first key "
            f"{known.identity[:16]}.. (anchored by {known.anchored_by}); this key list starts "
            f"from another key, {keys.identity[:16]}.., and does not chain to it by signed "
            "rotations. Pass --accept-new-identity only if you know the exchange replaced "
            "its keys")
    return KeyAnchor(ANCHORED_BY_PIN if pinned else UNANCHORED, None)


def check_log_name(memory: ExchangeMemory | None, head: SignedTreeHead,
                   accept_new_log: bool) -> bool:
    """Whether ``head`` starts a new log for a known identity (accepted explicitly).

    Raises:
        TrustFailure: ``new-log``: a known exchange publishes another log and the user did
            not accept it.
    """
    if memory is None or memory.log == head.head.log:
        return False
    if not accept_new_log:
        raise TrustFailure(
            "new-log", f"this exchange's log is {memory.log!r} (last seen at size "
            f"{memory.head.head.tree_size if memory.head else 0}); this bundle is of another "
            f"log, {head.head.log!r}: a second history. Pass --accept-new-log only if the "
            "exchange announced it")
    return True


def tree_head_findings(head: SignedTreeHead, keys: KeyList, keylist_hash: bytes,
                       now: datetime, max_age: timedelta) -> list[TrustFailure]:
    """Every trust rule a relied-on tree head fails (spec §12.2), empty if none."""
    found: list[TrustFailure] = []
    h = head.head
    if h.version < STH_VERSION:
        found.append(TrustFailure("tree-head", f"a version {h.version} tree head binds no "
                                  "exchange and no key list; a bundle's head must be version "
                                  f"{STH_VERSION}"))
    current = keys.current
    if h.key_id != current.key_id:
        found.append(TrustFailure(
            "tree-head", f"the tree head is signed by key {h.key_id[:16]}.., not by the key "
            f"list's current key {current.key_id[:16]}..: only the current key vouches for "
            "the log now (a rotated-out key could sign any date)"))
    else:
        try:
            keys.key(h.key_id, h.timestamp)
            head.signed.verify_signed_by(current, "tree head")
        except VerificationError as e:
            found.append(TrustFailure("tree-head", str(e)))
    if h.exchange is not None and h.exchange != keys.exchange:
        found.append(TrustFailure("tree-head", f"the tree head is of exchange {h.exchange!r}, "
                                  f"the key list of {keys.exchange!r}"))
    if h.keylist_sha256 is not None and h.keylist_sha256 != keylist_hash:
        found.append(TrustFailure("tree-head", "the tree head binds another key list (SHA-256 "
                                  f"{h.keylist_sha256.hex()[:16]}..) than the one given "
                                  f"({keylist_hash.hex()[:16]}..)"))
    if h.timestamp > now + CLOCK_SKEW:
        found.append(TrustFailure("tree-head", f"the tree head is dated "
                                  f"{format_time(h.timestamp)}, in the future (now is "
                                  f"{format_time(now)}, allowed skew {CLOCK_SKEW})"))
    elif now - h.timestamp > max_age:
        found.append(TrustFailure("stale", f"the tree head is dated {format_time(h.timestamp)}, "
                                  f"{(now - h.timestamp).days} days before now "
                                  f"({format_time(now)}); the maximum age is {max_age.days} "
                                  "days: the exchange has not signed a recent head"))
    return found


def remembered_after(keys: KeyList, anchor: KeyAnchor, head: SignedTreeHead,
                     pinned: str | None, now: datetime) -> ExchangeMemory:
    """The memory of this identity once ``head`` and ``keys`` are accepted: the newer of
    the remembered and the new head, the new chain, the anchor upgraded to a pin once one
    is given."""
    old = anchor.memory
    kept = old.head if old is not None and old.log == head.head.log else None
    newest = head if kept is None or kept.head.tree_size <= head.head.tree_size else kept
    anchored_by = ANCHOR_PIN if pinned else (old.anchored_by if old else ANCHOR_FIRST_USE)
    return ExchangeMemory(
        identity=keys.identity,
        exchange=old.exchange if old else keys.exchange,
        anchored_by=anchored_by,
        first_seen=old.first_seen if old else now,
        key_ids=keys.key_ids,
        log=head.head.log,
        head=newest,
    )
