"""Client addresses and IP allowlists (IPv4 and IPv6 CIDR lists)."""

import ipaddress
from collections.abc import Sequence

from starlette.requests import Request

from contactflow.platform.errors import invalid


def validate_networks(entries: Sequence[str], field: str = "allowedIps") -> list[str]:
    """Normalised CIDRs (a bare address is a /32 or /128); a bad entry is a 422."""
    networks = []
    for position, entry in enumerate(entries):
        try:
            networks.append(str(ipaddress.ip_network(entry.strip(), strict=False)))
        except ValueError as error:
            raise invalid(f"{field}.{position}", f"not an IP address or CIDR ({error})") from error
    return networks


def allowed(address: str | None, networks: Sequence[str]) -> bool:
    """True when there is no allowlist, or the address is in one of its networks."""
    if not networks:
        return True
    if address is None:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in ipaddress.ip_network(network) for network in networks)


def client_ip(request: Request, *, trust_proxy: bool) -> str | None:
    """The caller's address. X-Forwarded-For is believed only behind a trusted proxy, and
    then its last entry: the one that proxy appended, which the client cannot forge."""
    if trust_proxy:
        forwarded = request.headers.get("x-forwarded-for")
        if forwarded:
            return forwarded.split(",")[-1].strip() or None
    return request.client.host if request.client else None


def over_tls(request: Request, *, trust_proxy: bool) -> bool:
    """Whether the client's request came over TLS: served so here, or, behind a trusted
    proxy, the last X-Forwarded-Proto entry (the proxy's own, as for client_ip) says so."""
    # The scope's scheme, as Request.url's is, without building the whole URL.
    if request.scope.get("scheme") == "https":
        return True
    if not trust_proxy:
        return False
    forwarded = request.headers.get("x-forwarded-proto", "")
    return forwarded.split(",")[-1].strip().lower() == "https"
