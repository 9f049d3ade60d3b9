"""Recently authenticated bearer tokens, so a busy client costs one credential look-up a
second rather than one per request (ADR 0012).

An entry is trusted for at most `ttl` seconds, counted from before the look-up that made it
began: whatever changed in the database before that look-up is in it, and a change committed
after it (a key revoked or rotated by the CLI, a token revoked through /oauth/revoke, an
allowlist or scope change, a location deleted) is seen by the first request that comes more
than `ttl` seconds after the change, in every process alike. A credential's own expiry is
checked on every use. Refusals are not kept: a wrong token always reaches the database, so
garbage tokens cannot fill the cache, and a token that becomes valid works at once.

Revoking or rotating a credential in a process also empties that process's caches at once
(`forget_everywhere`), so there the change is seen by the next request; only a request racing
the revoking transaction can still pass, within the same `ttl`.
"""

import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from contactflow.platform.auth import credential_format
from contactflow.platform.auth.principal import Principal
from contactflow.platform.clock import utcnow

# One second: the bound within which a revocation must take effect in the revoking process
# (and the tighter of the two bounds; other processes have five).
DEFAULT_TTL_SECONDS = 1.0
MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: Principal
    trusted_until: float  # time.monotonic()


class CredentialCache:
    def __init__(self, ttl: float = DEFAULT_TTL_SECONDS, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, _Entry] = {}
        _caches.add(self)

    async def principal(
        self, token: str, look_up: Callable[[str], Awaitable[Principal]]
    ) -> Principal:
        """The caller `token` names: from an entry still trusted, or from `look_up` (whose
        refusal, an Unauthorized, passes through)."""
        digest = credential_format.digest(token)
        now = time.monotonic()
        entry = self._entries.get(digest)
        if entry is not None and now < entry.trusted_until and not _expired(entry.principal):
            return entry.principal
        self._entries.pop(digest, None)
        found = await look_up(token)
        if len(self._entries) >= self.max_entries:
            # Insertion order: the oldest entry goes first.
            del self._entries[next(iter(self._entries))]
        self._entries[digest] = _Entry(found, now + self.ttl)
        return found


_caches: "weakref.WeakSet[CredentialCache]" = weakref.WeakSet()


def forget_everywhere() -> None:
    """Empty every cache of this process: a credential is being revoked or rotated."""
    for cache in list(_caches):
        cache._entries.clear()


def _expired(principal: Principal) -> bool:
    return principal.expires_at is not None and principal.expires_at <= utcnow()
