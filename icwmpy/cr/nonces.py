"""Server-side Digest nonces for the connection request listener.

A captured connection request must not be replayable (TR-069 3.2.2), and only a server
that remembers the highest nonce count ("nc") accepted for each nonce can refuse a
replay. Once that table exists, a nonce is just a key into it: plain random tokens are
enough, and a forged, expired or forgotten nonce is simply one that is not in the table.
The table is bounded in size and age so that strangers asking for challenges cannot grow
memory without limit.
"""

import enum
import secrets
import time


class Verdict(enum.Enum):
    """What a correctly computed Digest answer tells us about its nonce."""

    OK = "ok"  # live nonce, count above every count accepted before
    STALE = "stale"  # expired, evicted or never issued: challenge again with stale=true
    REPLAY = "replay"  # live nonce, count not above the last accepted one


class NonceStore:
    """Issued nonces with their issue time and the last nonce count accepted."""

    def __init__(self, ttl=300.0, capacity=256):
        if capacity < 1:
            raise ValueError("nonce capacity must be at least 1")
        self._ttl = ttl
        self._capacity = capacity
        # nonce -> [issued_at, last_nc]; dict order is issue order, so the oldest is first.
        self._nonces = {}

    def __len__(self):
        return len(self._nonces)

    def issue(self):
        """A fresh nonce; the oldest one is forgotten when the store is full."""
        now = time.monotonic()
        self._prune(now)
        while len(self._nonces) >= self._capacity:
            del self._nonces[next(iter(self._nonces))]
        nonce = secrets.token_hex(16)
        self._nonces[nonce] = [now, 0]
        return nonce

    def use(self, nonce, nc):
        """Record a use of ``nonce`` with count ``nc`` and say whether it is acceptable.

        Call only once the Digest answer is known to be correct: otherwise anyone who saw
        a nonce go by could burn it by sending a high count with a wrong answer.
        """
        self._prune(time.monotonic())
        entry = self._nonces.get(nonce)
        if entry is None:
            return Verdict.STALE
        if nc <= entry[1]:
            return Verdict.REPLAY
        entry[1] = nc
        return Verdict.OK

    def _prune(self, now):
        while self._nonces:
            nonce, (issued, _) = next(iter(self._nonces.items()))
            if now - issued < self._ttl:
                break
            del self._nonces[nonce]
