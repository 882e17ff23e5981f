"""A logged-in WordPress client for tests: cookie login, then a REST nonce.

Works over plain HTTP without Application Passwords, on any instance or through the proxy.
"""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request
from typing import Any


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Login:
    def __init__(self, base: str, user: str, password: str) -> None:
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)
        self.open(f"{base}/wp-login.php")
        form = {"log": user, "pwd": password, "wp-submit": "Log In", "testcookie": "1"}
        status, _ = self.open(f"{base}/wp-login.php", urllib.parse.urlencode(form).encode())
        assert status == 302 and any(c.name.startswith("wordpress_logged_in") for c in self.jar), status
        status, nonce = self.open(f"{base}/wp-admin/admin-ajax.php?action=rest-nonce")
        assert status == 200, nonce
        self.nonce = nonce.decode().strip()

    def open(
        self, url: str, data: bytes | None = None, headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        request = urllib.request.Request(url, data=data, headers=headers or {})
        try:
            with self.opener.open(request, timeout=30) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()

    def rest(self, url: str, body: bytes, content_type: str, **headers: str) -> tuple[int, Any]:
        all_headers = {"X-WP-Nonce": self.nonce, "Content-Type": content_type, **headers}
        status, raw = self.open(url, body, all_headers)
        return status, json.loads(raw)
