"""HTTP to a vetted address only: a requests session whose connections go to the IP the scope policy
checked, with the Host header and TLS SNI set to the target's name, and that refuses any other host.

requests would otherwise resolve the name again for every connection (a rebinding DNS server answers
something else the second time) and honour proxy variables from the environment.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from lib.core.target_url import TargetURL


class PinnedAdapter(HTTPAdapter):
    """Every request for `host` connects to `ip`; a request for another host fails before connecting."""

    def __init__(self, host: str, ip: str, host_is_ip: bool) -> None:
        super().__init__(max_retries=0)
        self.host, self.ip, self.host_is_ip = host, ip, host_is_ip

    def build_connection_pool_key_attributes(
        self, request: requests.PreparedRequest, verify: Any, cert: Any = None
    ) -> Any:
        params, kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        host_params: dict[str, Any] = dict(params)
        pool_kwargs: dict[str, Any] = dict(kwargs)
        if str(host_params.get("host") or "").lower() != self.host:
            raise ValueError(f"this session connects only to {self.host}, not to {host_params.get('host')!r}")
        host_params["host"] = self.ip
        if host_params["scheme"] == "https":
            if not self.host_is_ip:
                pool_kwargs["server_hostname"] = self.host
            pool_kwargs["assert_hostname"] = self.host if verify is not False else False
        return host_params, pool_kwargs

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        request.headers["Host"] = urlsplit(request.url or "").netloc
        kwargs["proxies"] = {}  # straight to the vetted address, never through a proxy
        return super().send(request, *args, **kwargs)


class _NoRedirects(requests.Session):
    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        kwargs["allow_redirects"] = False  # callers follow redirects hop by hop, each one checked
        return super().send(request, **kwargs)


def pinned_session(target: TargetURL, ip: str) -> requests.Session:
    """A session for `target`'s host that connects to `ip` only, ignores proxy settings and follows no
    redirect by itself."""
    session = _NoRedirects()
    session.trust_env = False
    adapter = PinnedAdapter(target.host, ip, target.is_ip)
    for prefix in ("http://", "https://"):
        session.mount(prefix, adapter)
    return session
