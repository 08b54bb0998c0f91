"""Calls the server makes to URLs that users typed: webhooks, ML backends, storage endpoints.

Such a URL is a door into the server's network, so every one goes through here:

- ``check_url``: http or https only, no credentials in the URL, and every address the host
  resolves to must be public, unless the host or the address is listed in
  ``LABELFAB_OUTBOUND_ALLOW`` (hosts, addresses or CIDR networks; the tests list 127.0.0.1).
  Leads and admins set such URLs; the check runs when a URL is saved and again at each call.
- ``request``: connects to the very address that was checked (a DNS answer that changes between
  the check and the call cannot redirect it), follows no redirect, and bounds the time
  (``LABELFAB_OUTBOUND_TIMEOUT``) and the size of the answer (``LABELFAB_OUTBOUND_MAX_RESPONSE_KB``).

Credentials that such calls carry are stored sealed (``labeling.secretbox``), never returned.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import urllib3

from labeling.errors import DomainError, Invalid
from labeling.settings import get_settings


class OutboundError(DomainError):
    """The remote side could not be reached or answered badly (a 502 to the caller)."""

    status = 502


@dataclass(frozen=True)
class Target:
    """A checked URL: where to connect (``address``) and what to ask for."""

    scheme: str
    host: str
    port: int
    address: str
    path: str


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def json(self):
        import json

        return json.loads(self.body or b"null")


def _allowed() -> tuple[set[str], list[ipaddress._BaseNetwork]]:
    hosts: set[str] = set()
    nets: list[ipaddress._BaseNetwork] = []
    for entry in (e.strip() for e in get_settings().outbound_allow.split(",")):
        if not entry:
            continue
        try:
            nets.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            hosts.add(entry.lower())
    return hosts, nets


def _public(ip: ipaddress._BaseAddress) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_url(url: str, *, resolve: bool = True) -> Target:
    """``url`` checked as the rules above say; ``Invalid`` (422) names what is wrong."""
    if not isinstance(url, str) or len(url) > 2048:
        raise Invalid("the URL must be text of at most 2048 characters")
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise Invalid(f"only http and https URLs can be called, not {parts.scheme or 'a bare path'!r}")
    if parts.username or parts.password:
        raise Invalid("a URL must not carry a user name or password (use the headers or credentials fields)")
    host = (parts.hostname or "").lower()
    if not host:
        raise Invalid("the URL has no host")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Invalid("the URL's port is not a number between 0 and 65535") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not resolve:
        return Target(parts.scheme, host, port, host, path)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Invalid(f"the host {host!r} cannot be resolved") from None
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    hosts, nets = _allowed()
    for ip in addresses:
        if not (_public(ip) or host in hosts or any(ip in net for net in nets)):
            raise Invalid(f"calls to {host!r} ({ip}) are refused: a private, loopback or link-local address "
                          "(an administrator can allow it with LABELFAB_OUTBOUND_ALLOW)")
    return Target(parts.scheme, host, port, str(addresses[0]), path)


def request(method: str, url: str, *, body: bytes | None = None, headers: dict[str, str] | None = None,
            timeout: float | None = None) -> Reply:
    """One call to ``url`` (checked again now); ``OutboundError`` when it cannot be made or its
    answer is too large. Any HTTP status is returned: the caller decides what a failure is."""
    target = check_url(url)
    settings = get_settings()
    limit = settings.outbound_max_response_kb * 1024
    timeout = timeout or settings.outbound_timeout
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    sent = {"User-Agent": "labelfab", **(headers or {}), "Host": host_header}
    kwargs = {"timeout": urllib3.Timeout(total=timeout), "retries": False, "maxsize": 1}
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(target.address, target.port, server_hostname=target.host,
                                           assert_hostname=target.host, **kwargs)
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, **kwargs)
    try:
        response = pool.urlopen(method, target.path, body=body, headers=sent, redirect=False,
                                preload_content=False, assert_same_host=False)
        data = response.read(limit + 1)
        response.release_conn()
    except urllib3.exceptions.HTTPError as exc:
        raise OutboundError(f"{target.host}: {type(exc).__name__}: {exc}") from None
    finally:
        pool.close()
    if len(data) > limit:
        raise OutboundError(f"{target.host} answered more than {limit // 1024} KiB")
    return Reply(response.status, data, {k.lower(): v for k, v in response.headers.items()})
