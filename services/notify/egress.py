"""Where webhooks may go: the public internet, unless an operator allows more.

notify posts to URLs that its subscribers chose, from inside the cluster; without a check
that is a way to reach the cloud's metadata service (169.254.169.254), the cluster's own
services and anything on loopback or a private network, and each attempt's outcome is a
port scan. So a URL whose host resolves to any address that is not public internet is
refused when subscribing, and again at every delivery after resolving the host anew (a
name may resolve elsewhere by then: DNS rebinding), and the attempt connects to the very
address that was checked. URLs with `user:password@` are refused (credentials belong in the
signature, not in a URL shown to operators).

The operator's allow-list (`QUNPING_WEBHOOK_ALLOW`) names host names or networks that may
be reached all the same: a receiver on the district's own network, say.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]
"""host, port -> the addresses a connection may go to."""

METADATA = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
DEFAULT_SERVICE_NETWORKS = "10.96.0.0/12"
"""Kubernetes' default service network; a cluster may use another (set it)."""


class Refused(Exception):
    """A destination webhooks may not reach; the message is short and says why."""


def system_resolver(host: str, port: int) -> list[str]:
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]) for info in found))


@dataclass(frozen=True)
class EgressPolicy:
    allowed_hosts: frozenset[str] = frozenset()
    allowed_networks: tuple[Network, ...] = ()
    service_networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, allow: str, service_networks: str) -> EgressPolicy:
        """From comma-separated lists; raises ValueError naming a bad entry."""
        hosts: set[str] = set()
        networks: list[Network] = []
        for entry in _items(allow):
            try:
                networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                if not all(part.isalnum() or part in "-." for part in entry):
                    raise ValueError(f"not a host name or network: {entry!r}") from None
                hosts.add(entry.lower().rstrip("."))
        return cls(
            frozenset(hosts),
            tuple(networks),
            tuple(ipaddress.ip_network(entry, strict=False) for entry in _items(service_networks)),
        )

    def check(self, url: str, resolve: Resolver) -> list[str]:
        """The addresses `url` may be delivered to now; raises Refused with a short reason."""
        parts = urlsplit(url)
        if parts.username is not None or parts.password is not None:
            raise Refused("credentials in the URL (user:password@) are refused")
        host = (parts.hostname or "").rstrip(".")
        if not host:
            raise Refused("the URL has no host")
        if host.lower() in self.allowed_hosts:
            return []
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = resolve(host, port)
        if not addresses:
            raise Refused(f"{host} does not resolve")
        for text in addresses:
            reason = self.refusal(ipaddress.ip_address(text.split("%")[0]))
            if reason:
                raise Refused(f"{host} resolves to {reason} ({text}), which is refused")
        return addresses

    def refusal(self, address: Address) -> str | None:
        """Why `address` may not be reached, or None if it may."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped
        if any(address in network for network in self.allowed_networks):
            return None
        if address in METADATA:
            return "the cloud metadata service"
        if any(address in network for network in self.service_networks):
            return "the cluster's service network"
        for kind, matches in (
            ("an unspecified address", address.is_unspecified),
            ("a loopback address", address.is_loopback),
            ("a link-local address", address.is_link_local),
            ("a multicast address", address.is_multicast),
            ("a private address", address.is_private),
            ("a reserved address", not address.is_global),
        ):
            if matches:
                return kind
        return None


def _items(text: str) -> Iterable[str]:
    return (item.strip() for item in text.split(",") if item.strip())


class PinnedAdapter(HTTPAdapter):
    """Connects to the address that was checked, not to whatever the host name resolves to
    a moment later (DNS rebinding); the Host header and TLS still use the name."""

    def __init__(self, address: str) -> None:
        self._address = address
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": _pinned(HTTPConnectionPool, self._address),
            "https": _pinned(HTTPSConnectionPool, self._address),
        }


def _pinned(pool: type[HTTPConnectionPool], address: str) -> type[HTTPConnectionPool]:
    class PinnedConnection(pool.ConnectionCls):  # type: ignore[name-defined,misc]
        def _new_conn(self) -> Any:
            # urllib3 connects to `_dns_host` (the name, by default); only here is it the
            # checked address, so everything else about the connection keeps the name.
            name, self._dns_host = self._dns_host, address  # type: ignore[has-type]
            try:
                return super()._new_conn()
            finally:
                self._dns_host = name

    return type(f"Pinned{pool.__name__}", (pool,), {"ConnectionCls": PinnedConnection})


def pinned_session(addresses: list[str]) -> requests.Session:
    """A session whose connections go to the first of `addresses` (all of them checked)."""
    session = requests.Session()
    adapter = PinnedAdapter(addresses[0])
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
