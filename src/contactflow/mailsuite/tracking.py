"""Tracking links: the open pixel, click redirects and unsubscribe links, each an HMAC-signed
token, and the rules that tell a person's open or click from a machine's.

A click token carries its target URL under the signature, so the redirect goes only where
the email pointed (no open redirect) and nothing has to be looked up to find the target.
The key is the installation's own, made on first use and stored encrypted at rest.
"""

import base64
import hashlib
import hmac
import html
import ipaddress
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from weakref import WeakKeyDictionary

from sqlalchemy import select

from contactflow.mailsuite.models import TrackingKey
from contactflow.platform.db import Database

Kind = Literal["open", "click", "unsubscribe"]
_KIND_CODES: dict[Kind, str] = {"open": "o", "click": "c", "unsubscribe": "u"}
_MAC_BYTES = 16
MAX_URL_LENGTH = 2048

# A transparent 1x1 GIF.
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")

_keys: "WeakKeyDictionary[Database, bytes]" = WeakKeyDictionary()


async def tracking_key(db: Database) -> bytes:
    """The installation's key, made on first use; every process of the installation shares it."""
    cached = _keys.get(db)
    if cached is not None:
        return cached
    async with db.reader() as session:
        stored = await session.scalar(select(TrackingKey).order_by(TrackingKey.created_at))
    if stored is None:
        async with db.unit_of_work() as uow:
            await uow.lock("mailsuite-tracking-key")
            stored = await uow.session.scalar(select(TrackingKey).order_by(TrackingKey.created_at))
            if stored is None:
                stored = TrackingKey(secret=secrets.token_urlsafe(32))
                uow.session.add(stored)
    key = stored.secret.encode()
    _keys[db] = key
    return key


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, payload: str) -> str:
    return _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest()[:_MAC_BYTES])


def make_token(key: bytes, kind: Kind, email_id: str, url: str | None = None) -> str:
    body = f"{_KIND_CODES[kind]}\n{email_id}" + (f"\n{url}" if url is not None else "")
    payload = _b64(body.encode())
    return f"{payload}.{_mac(key, payload)}"


@dataclass(frozen=True)
class Token:
    kind: Kind
    email_id: str
    url: str | None


def read_token(key: bytes, kind: Kind, token: str) -> Token | None:
    """The token's content when its signature holds and it is of `kind`; None otherwise."""
    payload, _, mac = token.rpartition(".")
    if not payload or not hmac.compare_digest(mac, _mac(key, payload)):
        return None
    try:
        code, email_id, *rest = _unb64(payload).decode().split("\n", 2)
    except (ValueError, UnicodeDecodeError):
        return None
    if code != _KIND_CODES[kind] or (kind == "click") != bool(rest):
        return None
    return Token(kind=kind, email_id=email_id, url=rest[0] if rest else None)


@dataclass(frozen=True)
class Links:
    """Builds an email's tracking URLs under the server's public address."""

    base_url: str
    key: bytes

    def _url(self, path: str, kind: Kind, email_id: str, url: str | None = None) -> str:
        return f"{self.base_url.rstrip('/')}/mailsuite/v1/{path}/" + make_token(
            self.key, kind, email_id, url
        )

    def pixel(self, email_id: str) -> str:
        return self._url("track/open", "open", email_id)

    def click(self, email_id: str, target: str) -> str:
        return self._url("track/click", "click", email_id, target)

    def unsubscribe(self, email_id: str) -> str:
        return self._url("unsubscribe", "unsubscribe", email_id)


_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(.*?)\2""", re.IGNORECASE | re.DOTALL)
_BODY_END = re.compile(r"</body\s*>", re.IGNORECASE)


def tracked_html(
    body: str, email_id: str, links: Links, *, opens: bool, clicks: bool, keep: str
) -> str:
    """The HTML as sent: http(s) links through the click redirect (except `keep`, the
    unsubscribe link, which must work without a redirect) and the open pixel at the end."""
    if clicks:

        def rewrite(match: re.Match[str]) -> str:
            target = html.unescape(match.group(3)).strip()
            if (
                not target.lower().startswith(("http://", "https://"))
                or target == keep
                or len(target) > MAX_URL_LENGTH
            ):
                return match.group(0)
            quote = match.group(2)
            return f"{match.group(1)}{quote}{html.escape(links.click(email_id, target))}{quote}"

        body = _HREF.sub(rewrite, body)
    if opens:
        pixel = (
            f'<img src="{html.escape(links.pixel(email_id))}" width="1" height="1" alt="" '
            'style="display:block;border:0;width:1px;height:1px">'
        )
        parts = _BODY_END.split(body, maxsplit=1)
        body = f"{parts[0]}{pixel}</body>{parts[1]}" if len(parts) == 2 else body + pixel
    return body


# Image proxies and prefetchers fetch the pixel for the reader; link scanners of mail
# security gateways follow every link before the reader sees the message.
_MACHINE_AGENTS: tuple[tuple[str, str], ...] = (
    ("googleimageproxy", "image proxy (Gmail)"),
    ("ggpht.com", "image proxy (Gmail)"),
    ("yahoomailproxy", "image proxy (Yahoo)"),
    ("bingpreview", "link scanner (Microsoft)"),
    ("safelinks", "link scanner (Microsoft)"),
    ("microsoft office existence discovery", "link scanner (Microsoft)"),
    ("barracuda", "link scanner (Barracuda)"),
    ("proofpoint", "link scanner (Proofpoint)"),
    ("mimecast", "link scanner (Mimecast)"),
    ("headlesschrome", "automated browser"),
    ("bot", "crawler"),
    ("spider", "crawler"),
    ("python-", "HTTP library"),
    ("curl/", "HTTP library"),
    ("wget/", "HTTP library"),
    ("go-http-client", "HTTP library"),
)
# Apple Mail Privacy Protection fetches through Apple's own network with a bare user agent.
_APPLE_NETWORK = ipaddress.ip_network("17.0.0.0/8")
_APPLE_PREFETCH_AGENT = "mozilla/5.0"


def machine_reason(
    user_agent: str, ip: str | None, sent_at: datetime | None, now: datetime, window: float
) -> str | None:
    """Why this open or click was a machine's, or None when it looks like a person's."""
    agent = user_agent.strip().lower()
    if not agent:
        return "no user agent"
    for marker, reason in _MACHINE_AGENTS:
        if marker in agent:
            return reason
    if agent == _APPLE_PREFETCH_AGENT or _from_apple(ip):
        return "Apple Mail Privacy Protection prefetch"
    if sent_at is not None and now - sent_at < timedelta(seconds=window):
        return f"within {window:g} s of sending"
    return None


def _from_apple(ip: str | None) -> bool:
    if ip is None:
        return False
    try:
        return ipaddress.ip_address(ip) in _APPLE_NETWORK
    except ValueError:
        return False
