"""Whether a state-changing request comes from Blu's own pages, by what the browser says of its origin."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FOREIGN_DETAIL = "Refused: this request came from another site."


def same_origin(method: str, headers: Mapping[str, str]) -> bool:
    """A browser names the request's origin in Sec-Fetch-Site and Origin; a state-changing request must
    come from the same origin (same-site is not enough: another subdomain is another origin). Clients
    that send neither header (scripts, the voice worker) are not browsers and pass. `headers` must
    have lower-case names.

    Sec-Fetch-Site decides when present (every current browser sends it): it does not depend on the
    Host header, which a proxy in front of Blu may rewrite. Without it, Origin must name the Host or
    the `host=` a proxy recorded in `Forwarded` (API Gateway's HTTP API does)."""
    if method.upper() in SAFE_METHODS:
        return True
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = headers.get("origin")
    if origin is None:
        return True
    hosts = {headers.get("host", "").lower(), *_forwarded_hosts(headers.get("forwarded", ""))}
    return origin != "null" and urlsplit(origin).netloc.lower() in hosts - {""}


def _forwarded_hosts(value: str) -> set[str]:
    hosts = set()
    for element in value.split(","):
        for pair in element.split(";"):
            name, _, host = pair.strip().partition("=")
            if name.lower() == "host":
                hosts.add(host.strip().strip('"').lower())
    return hosts
