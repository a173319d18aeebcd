"""Where webhooks may go: each refused class of address, the allow-list, credentials."""

from __future__ import annotations

import pytest

from services.notify.egress import DEFAULT_SERVICE_NETWORKS, EgressPolicy, Refused


def resolving_to(*addresses: str):  # type: ignore[no-untyped-def]
    return lambda host, port: list(addresses)


POLICY = EgressPolicy.parse("", DEFAULT_SERVICE_NETWORKS)


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("::1", "a loopback address"),
        ("::ffff:127.0.0.1", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.0.9", "a private address"),
        ("192.168.1.1", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("169.254.10.20", "a link-local address"),
        ("fe80::1", "a link-local address"),
        ("224.0.0.251", "a multicast address"),
        ("ff02::1", "a multicast address"),
        ("169.254.169.254", "the cloud metadata service"),
        ("0.0.0.0", "an unspecified address"),
        ("::", "an unspecified address"),
        ("10.96.0.1", "the cluster's service network"),
        ("100.64.0.1", "a reserved address"),
    ],
)
def test_a_host_resolving_to_a_non_public_address_is_refused(address: str, reason: str) -> None:
    with pytest.raises(Refused, match=f"resolves to {reason}"):
        POLICY.check("https://receiver.example.cn/hook", resolving_to(address))


def test_one_non_public_address_among_public_ones_is_enough_to_refuse() -> None:
    with pytest.raises(Refused, match="loopback"):
        POLICY.check("http://x.example.cn/", resolving_to("93.184.216.34", "127.0.0.1"))


def test_a_public_address_is_accepted() -> None:
    assert POLICY.check("http://x.example.cn/", resolving_to("93.184.216.34")) == ["93.184.216.34"]


def test_a_service_network_that_looks_public_is_refused_when_configured() -> None:
    policy = EgressPolicy.parse("", "203.0.113.0/24,198.18.0.0/15")
    with pytest.raises(Refused, match="service network"):
        policy.check("http://svc.example.cn/", resolving_to("203.0.113.7"))


def test_credentials_in_the_url_are_refused_before_resolving() -> None:
    def never(host: str, port: int) -> list[str]:
        raise AssertionError("resolved")

    for url in ("http://user:pw@x.example.cn/", "http://user@x.example.cn/"):
        with pytest.raises(Refused, match="credentials"):
            POLICY.check(url, never)


def test_a_host_that_does_not_resolve_is_refused() -> None:
    with pytest.raises(Refused, match="does not resolve"):
        POLICY.check("http://nowhere.example.cn/", resolving_to())


def test_the_operators_allow_list_names_hosts_and_networks() -> None:
    policy = EgressPolicy.parse("receiver.district.local, 10.20.0.0/16", DEFAULT_SERVICE_NETWORKS)
    assert policy.check("http://Receiver.District.Local:8080/", resolving_to("127.0.0.1")) == []
    assert policy.check("http://h.example.cn/", resolving_to("10.20.3.4")) == ["10.20.3.4"]
    with pytest.raises(Refused):
        policy.check("http://h.example.cn/", resolving_to("10.21.3.4"))


def test_a_bad_allow_list_entry_is_named() -> None:
    with pytest.raises(ValueError, match="not a host name or network"):
        EgressPolicy.parse("good.example.cn, bad/host:1", "")
