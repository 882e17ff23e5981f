"""Bad WordPress input is refused with the field and the fix named."""

from __future__ import annotations

import dataclasses

import pytest

from mesopress.wordpress import validate

GOOD = validate.SiteInput(2, "My Blog", "admin", "admin@example.com", "http://blog.example.com")


def test_a_good_site_passes() -> None:
    assert validate.check_site(GOOD) == []


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"instances": 0}, "wordpress.instances: 0 is too few, run at least 1 instance"),
        ({"instances": -1}, "wordpress.instances: -1 is too few"),
        ({"admin_email": "not-an-email"}, "wordpress.admin_email: 'not-an-email' is not an e-mail address"),
        ({"admin_email": "a@b"}, "wordpress.admin_email: 'a@b' is not an e-mail address"),
        ({"admin_email": "a..b@example.com"}, "wordpress.admin_email"),
        ({"admin_email": "a b@example.com"}, "wordpress.admin_email"),
        ({"title": "  "}, "wordpress.title: must not be empty"),
        ({"admin_user": "bad user!"}, "wordpress.admin_user: 'bad user!' must be"),
        ({"public_url": "blog.example.com"}, "wordpress.public_url: 'blog.example.com' must be an http"),
    ],
    ids=[
        "zero-instances", "negative-instances", "email-without-at", "email-without-dot", "email-double-dot",
        "email-with-space", "blank-title", "bad-user", "url-without-scheme",
    ],
)  # fmt: skip
def test_bad_site_input_is_refused_with_the_reason(change: dict[str, object], reason: str) -> None:
    errors = validate.check_site(dataclasses.replace(GOOD, **change))  # type: ignore[arg-type]
    assert len(errors) == 1 and errors[0].startswith(reason), errors


def test_every_reason_is_given_at_once() -> None:
    bad = validate.SiteInput(0, "", "admin", "nope", "http://x")
    assert [e.split(":")[0] for e in validate.check_site(bad)] == [
        "wordpress.instances",
        "wordpress.title",
        "wordpress.admin_email",
    ]


@pytest.mark.parametrize(
    "email",
    ["admin@example.com", "first.last+tag@mail.example.co.uk", "x@a-b.io"],
    ids=["simple", "plus", "dash"],
)
def test_valid_emails(email: str) -> None:
    assert validate.is_email(email)


@pytest.mark.parametrize(
    ("requests", "errors"),
    [
        ({"proxy.http": [80], "proxy.mysql": [3306]}, []),
        (
            {"proxy.http": [80], "wordpress.http": [80]},
            ["ports: 80 is requested by proxy.http and wordpress.http; give each a different port"],
        ),
        (
            {"proxy.mysql": [3306], "galera.sql": [3306], "proxy.http": [80, 80]},
            [
                "ports: 80 is requested by proxy.http and proxy.http; give each a different port",
                "ports: 3306 is requested by galera.sql and proxy.mysql; give each a different port",
            ],
        ),
        ({"proxy.http": [0]}, ["proxy.http: port 0 must be 1-65535"]),
    ],
    ids=["distinct", "http-clash", "two-clashes-sorted", "port-out-of-range"],
)
def test_port_conflicts_across_pods(requests: dict[str, list[int]], errors: list[str]) -> None:
    assert validate.check_ports(requests) == errors
