"""Where webhooks may go: https (http only in dev mode), and never to loopback, private,
link-local or metadata addresses unless the operator allowlists them. The check runs when an
endpoint is saved and again before each attempt, on the addresses the host resolves to then."""

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_METADATA = (
    ipaddress.ip_network("169.254.169.254/32"),
    ipaddress.ip_network("fd00:ec2::254/128"),
    ipaddress.ip_network("100.100.100.200/32"),  # Alibaba Cloud
)


class UnsafeUrl(ValueError):
    pass


class UrlPolicy:
    def __init__(self, *, allow_http: bool, allowed: list[str]) -> None:
        self.allow_http = allow_http
        self.allowed_hosts = {entry.lower() for entry in allowed if not _is_network(entry)}
        self.allowed_networks: list[IPNetwork] = [
            ipaddress.ip_network(entry, strict=False) for entry in allowed if _is_network(entry)
        ]

    def check_shape(self, url: str) -> str:
        """The URL's host, once scheme, host and credentials are acceptable."""
        try:
            parts = urlsplit(url)  # an unclosed IPv6 bracket is a ValueError here
            _ = parts.port
        except ValueError as error:
            raise UnsafeUrl(f"url: not a valid URL ({error})") from None
        if parts.scheme not in ("https", "http"):
            raise UnsafeUrl("url: must be an https URL")
        if parts.scheme == "http" and not self.allow_http:
            raise UnsafeUrl("url: must use https (http is allowed only in development mode)")
        if not parts.hostname:
            raise UnsafeUrl("url: has no host")
        if parts.username or parts.password:
            raise UnsafeUrl("url: must not carry credentials")
        return parts.hostname.lower()

    def check_address(self, host: str, address: IPAddress) -> None:
        if host in self.allowed_hosts or any(address in net for net in self.allowed_networks):
            return
        if any(address in net for net in _METADATA):
            raise UnsafeUrl(f"url: {host} resolves to a cloud metadata address ({address})")
        if (
            address.is_loopback
            or address.is_private
            or address.is_link_local
            or address.is_multicast
            or address.is_reserved
            or address.is_unspecified
            # e.g. 100.64.0.0/10, shared (carrier-grade NAT) space: not private, not public
            or not address.is_global
        ):
            raise UnsafeUrl(f"url: {host} resolves to a non-public address ({address})")

    async def check(self, url: str) -> None:
        host = self.check_shape(url)
        for address in await _resolve(host):
            self.check_address(host, address)
        try:
            # Last, where the address is known to be acceptable: a URL the client cannot
            # send (`host:80path`) is refused now, not at every delivery.
            httpx.URL(url)
        except httpx.InvalidURL as error:
            raise UnsafeUrl(f"url: not a valid URL ({error})") from None


def _is_network(entry: str) -> bool:
    try:
        ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return False
    return True


async def _resolve(host: str) -> list[IPAddress]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        # UnicodeError: a label the resolver cannot encode (empty, or over 63 characters).
        raise UnsafeUrl(f"url: host {host} does not resolve ({error})") from error
    return [ipaddress.ip_address(info[4][0]) for info in infos]
