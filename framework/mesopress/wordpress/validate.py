"""Refuse bad WordPress/proxy input before anything is reserved, with every reason at once.

Why separate from the generic service-file checks: these rules are about the site (an admin e-mail
WordPress will accept, at least one instance to serve it) and about ports that several pods ask for
on the same host, which the generic per-pod checks cannot see. Each reason names the field and the fix.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Close to WordPress's is_email(): local@domain with a dotted domain of letters, digits and dashes.
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"
_EMAIL = re.compile(rf"^{_LOCAL}@(?:{_LABEL}\.)+[A-Za-z]{{2,}}$")
_USER = re.compile(r"^[A-Za-z0-9_.@-]{1,60}$")


@dataclass(frozen=True)
class SiteInput:
    instances: int
    title: str
    admin_user: str
    admin_email: str
    public_url: str


def check_site(site: SiteInput) -> list[str]:
    """Reasons why the site cannot be deployed as given; empty when it can."""
    errors: list[str] = []
    if isinstance(site.instances, bool) or not isinstance(site.instances, int) or site.instances < 1:
        errors.append(f"wordpress.instances: {site.instances!r} is too few, run at least 1 instance, e.g. 2")
    if not site.title.strip():
        errors.append("wordpress.title: must not be empty, e.g. My Blog")
    if not _USER.match(site.admin_user):
        errors.append(
            f"wordpress.admin_user: {site.admin_user!r} must be 1-60 letters, digits, _ . @ or -, e.g. admin"
        )
    if not is_email(site.admin_email):
        errors.append(
            f"wordpress.admin_email: {site.admin_email!r} is not an e-mail address, e.g. admin@example.com"
        )
    if not re.match(r"^https?://[^/\s:]+(:\d{1,5})?(/\S*)?$", site.public_url):
        errors.append(
            f"wordpress.public_url: {site.public_url!r} must be an http(s) URL, e.g. http://blog.example.com"
        )
    return errors


def is_email(text: str) -> bool:
    return len(text) <= 254 and bool(_EMAIL.match(text)) and ".." not in text


def check_ports(requests: Mapping[str, Sequence[int]]) -> list[str]:
    """Fixed host ports per pod, e.g. {"proxy.http": [80], "proxy.mysql": [3306]} -> conflict reasons.

    Two pods that ask for the same fixed port cannot share an agent; rather than silently spreading
    them we refuse, because a proxy and a database on one port would also confuse every client.
    """
    errors: list[str] = []
    owners: dict[int, list[str]] = {}
    for name in sorted(requests):
        for port in requests[name]:
            if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
                errors.append(f"{name}: port {port!r} must be 1-65535")
                continue
            owners.setdefault(port, []).append(name)
    for port in sorted(owners):
        if len(owners[port]) > 1:
            who = " and ".join(owners[port])
            errors.append(f"ports: {port} is requested by {who}; give each a different port")
    return errors
