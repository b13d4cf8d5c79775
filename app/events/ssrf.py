"""SSRF guard for webhook URLs (SPEC §9): https only, no credentials, public addresses only;
checked at registration and again at connection time, where the connection goes to the very
addresses that were checked (so DNS cannot change between the check and the connection)."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
from typing import Any
from urllib.parse import SplitResult, urlsplit

import yarl

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class UnsafeURL(ValueError):
    """The URL may not be used as a webhook receiver; the message says why."""


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped
        if address.sixtofour is not None:
            return address.sixtofour
        if address.teredo is not None:
            return address.teredo[1]
    return None


def is_public(address: IPAddress) -> bool:
    embedded = _embedded_ipv4(address)
    if embedded is not None and not is_public(embedded):
        return False
    return address.is_global and not (address.is_multicast or address.is_reserved)


def parse(url: str, allow_private: bool) -> SplitResult:
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise UnsafeURL(f"not a valid URL: {exc}") from exc
    allowed_schemes = {"https", "http"} if allow_private else {"https"}
    if parts.scheme not in allowed_schemes:
        raise UnsafeURL("the URL must use https")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("the URL must not carry credentials; authenticate with the signature")
    if not parts.hostname:
        raise UnsafeURL("the URL has no host")
    if port == 0:
        raise UnsafeURL("port 0 is not a port")
    if parts.fragment:
        raise UnsafeURL("the URL must not have a #fragment")
    return parts


def connect_host(url: str, parts: SplitResult) -> str:
    """The host exactly as the delivery client connects to it (aiohttp takes yarl's `raw_host`:
    lower-cased, IDNA/UTS-46 mapped): the one normalisation for the check and the connection.
    A non-ASCII host that does not come back as itself (segmented digits that map to 127.0.0.1) is
    refused, as is a host that is not a valid DNS name. `parts`: the URL as `parse` split it."""
    try:
        parsed = yarl.URL(url)
        raw, shown = parsed.raw_host, parsed.host
    except (ValueError, UnicodeError) as exc:
        raise UnsafeURL(f"not a valid host name ({exc})") from exc
    if not raw:
        raise UnsafeURL("the URL has no host")
    written = parts.hostname or ""
    if not written.isascii() and shown != written.lower():
        raise UnsafeURL(
            f"the host {written!r} is read as {raw!r} by the HTTP client; write the host as "
            "it is meant"
        )
    if _literal(raw) is None:
        labels = raw.rstrip(".").split(".")
        if len(raw) > 253 or any(not 0 < len(label) <= 63 for label in labels):
            raise UnsafeURL(f"{raw!r} is not a valid host name")
    return raw


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def check_addresses(host: str, addresses: list[IPAddress], allow_private: bool) -> IPAddress:
    if not addresses:
        raise UnsafeURL(f"{host} does not resolve")
    if not allow_private:
        for address in addresses:
            if not is_public(address):
                raise UnsafeURL(f"{host} resolves to {address}, which is not a public address")
    return addresses[0]


@functools.lru_cache(maxsize=1024)
def _literal(host: str) -> IPAddress | None:
    """The address written as the host, if it is one (kept: a fan-out's thousands of URLs
    name a few hosts, and parsing the same address again was a third of a check)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _from_getaddrinfo(infos: list[tuple[Any, ...]]) -> list[IPAddress]:
    seen: dict[IPAddress, None] = {}
    for info in infos:
        seen[ipaddress.ip_address(info[4][0].split("%")[0])] = None
    return list(seen)


def check_url(url: str, allow_private: bool) -> None:
    """At registration: the URL's syntax and what its host resolves to now."""
    parts = parse(url, allow_private)
    host = connect_host(url, parts)
    literal = _literal(host)
    if literal is not None:
        check_addresses(host, [literal], allow_private)
        return
    try:
        infos = socket.getaddrinfo(host, _port(parts), type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeURL(f"{host} does not resolve ({_reason(exc)})") from exc
    check_addresses(host, _from_getaddrinfo(infos), allow_private)


def check_before_connecting(url: str, allow_private: bool) -> None:
    """At connection time, the part that needs no DNS: the URL, and an address written in it.
    A host name is checked by `CheckedResolver` when the connection resolves it.

    What this decides depends on the scheme, the authority (user, host, port) and whether
    there is a fragment, never on the path or query: both parsers involved (urlsplit here,
    yarl in the check and in the client) end the authority at the first "/", "?" or "#" after
    "//". So a URL with no "#" is judged by what comes before its first "/" or "?" after "//"
    (`_authority`), and an authority that passed is remembered: a fan-out sends to thousands
    of URLs on a few hosts, and checking each one whole was 50-70 us of the serving process's
    CPU a request (issue 18). Anything else, and every refusal, takes the whole check, so a
    refusal's words are about the URL itself; addresses a host name resolves to are never
    remembered here."""
    if "#" not in url and _passes(_authority(url), allow_private):
        return
    check_written(url, allow_private)


def _authority(url: str) -> str:
    """The URL up to the end of its authority: before the first "/" or "?" after the first
    "//" (the whole URL if there is none). Only for a URL without "#"."""
    start = url.find("//")
    if start < 0:
        return url
    ends = [at for at in (url.find("/", start + 2), url.find("?", start + 2)) if at >= 0]
    return url[: min(ends)] if ends else url


@functools.lru_cache(maxsize=4096)
def _passes(authority: str, allow_private: bool) -> bool:
    try:
        check_written(authority, allow_private)
    except UnsafeURL:
        return False
    return True


def check_written(url: str, allow_private: bool) -> None:
    """The URL's syntax, and an address written as its host, the whole URL read and nothing
    remembered (what `check_before_connecting` must always agree with)."""
    literal = _literal(connect_host(url, parse(url, allow_private)))
    if literal is not None:
        check_addresses(str(literal), [literal], allow_private)


async def resolve_checked(host: str, port: int, allow_private: bool) -> list[IPAddress]:
    """Resolve a host name and refuse it unless every address is allowed."""
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeURL(f"{host} does not resolve ({_reason(exc)})") from exc
    addresses = _from_getaddrinfo(infos)
    check_addresses(host, addresses, allow_private)
    return addresses


def _reason(exc: OSError | UnicodeError) -> str:
    """getaddrinfo's own words ("Name or service not known"), else the exception's."""
    return (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
