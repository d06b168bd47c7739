"""Per-client rate limiting of proof requests: a token bucket per client address, in
process memory.

Why: proof tokens are 128-bit random, so guessing is hopeless anyway; the limit keeps a
client from turning the proof endpoint into a load test or a timing oracle. It is per
process (each ``por serve --workers`` process keeps its own buckets) and per client address
as the server sees it: behind a reverse proxy, run uvicorn with ``--forwarded-allow-ips``
for the proxy so the address is the user's, or limit at the proxy.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict


class RateLimiter:
    """At most ``burst`` requests at once, refilled at ``per_minute`` per minute, per key."""

    def __init__(self, per_minute: float, burst: int, max_clients: int = 100_000) -> None:
        """A limiter; ``per_minute`` 0 turns it off (every request is allowed).

        Raises:
            ValueError: a negative rate or a burst below 1.
        """
        if per_minute < 0 or burst < 1:
            raise ValueError("rate must be >= 0 and burst >= 1")
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self.max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        """Whether requests are limited at all."""
        return self.rate > 0

    def allow(self, key: str, now: float | None = None) -> float:
        """Take one request from ``key``'s bucket.

        Returns:
            0.0 when allowed, else the seconds until a request will be allowed.
        """
        if not self.enabled:
            return 0.0
        moment = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.pop(key, (self.burst, moment))
            tokens = min(self.burst, tokens + (moment - last) * self.rate)
            if tokens >= 1.0:
                tokens -= 1.0
                wait = 0.0
            else:
                wait = (1.0 - tokens) / self.rate
            self._buckets[key] = (tokens, moment)
            # Forget the least recently seen clients first: memory stays bounded under a
            # flood of addresses (a forgotten client starts again with a full bucket).
            while len(self._buckets) > self.max_clients:
                self._buckets.popitem(last=False)
            return wait
