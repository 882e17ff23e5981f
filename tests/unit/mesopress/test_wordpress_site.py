"""wp-config.php and the docroot plan: one site, many instances, no password in the rendered file."""

from __future__ import annotations

import itertools

import pytest

from mesopress.wordpress import site

DB = site.Database("10.0.0.5", 3306, "wordpress", "wp", "/sandbox/secrets/db-password")
SALTS = {key: f"salt-{key}" for key in site.SALT_KEYS}
CONFIG = site.SiteConfig(DB, SALTS, "http://blog.example.com/")


def test_wp_config_reads_the_password_from_its_file_and_embeds_no_password() -> None:
    text = site.render_wp_config(CONFIG)
    assert "file_get_contents('/sandbox/secrets/db-password')" in text
    assert "define('DB_PASSWORD', rtrim($mesopress_password" in text
    assert "define('DB_HOST', '10.0.0.5:3306');" in text
    assert "define('DB_NAME', 'wordpress');" in text and "define('DB_USER', 'wp');" in text


@pytest.mark.parametrize(
    "line",
    [
        "define('WP_HOME', 'http://blog.example.com');",
        "define('WP_SITEURL', 'http://blog.example.com');",
        "define('DISABLE_WP_CRON', true);",
        "define('FS_METHOD', 'direct');",
        "define('AUTH_KEY', 'salt-AUTH_KEY');",
        "define('NONCE_SALT', 'salt-NONCE_SALT');",
        "require_once ABSPATH . 'wp-settings.php';",
    ],
    ids=["home", "siteurl", "no-wp-cron", "fs-direct", "first-salt", "last-salt", "loads-wordpress"],
)
def test_wp_config_defines(line: str) -> None:
    assert line in site.render_wp_config(CONFIG)


@pytest.mark.parametrize("local", [True, False], ids=["local-asked", "not-asked"])
def test_environment_type_local_only_when_asked(local: bool) -> None:
    text = site.render_wp_config(site.SiteConfig(DB, SALTS, "http://x", local=local))
    assert ("define('WP_ENVIRONMENT_TYPE', 'local');" in text) is local


def test_a_missing_salt_is_refused_with_its_name() -> None:
    salts = {k: v for k, v in SALTS.items() if k != "NONCE_KEY"}
    with pytest.raises(ValueError, match="salts missing: NONCE_KEY"):
        site.render_wp_config(site.SiteConfig(DB, salts, "http://x"))


def test_generated_salts_cover_every_key_and_are_safe_php_literals() -> None:
    salts = site.generate_salts()
    assert set(salts) == set(site.SALT_KEYS)
    assert all(len(v) == site.SALT_LENGTH and not set(v) & set("'\\\"") for v in salts.values())
    assert len(set(salts.values())) == len(salts)


def test_salts_come_from_the_given_chooser() -> None:
    letters = itertools.cycle("ab")
    salts = site.generate_salts(lambda alphabet: next(letters))
    assert salts["AUTH_KEY"] == "ab" * (site.SALT_LENGTH // 2)


@pytest.mark.parametrize(
    ("value", "literal"),
    [("plain", "'plain'"), ("it's", "'it\\'s'"), ("back\\slash", "'back\\\\slash'")],
    ids=["plain", "quote", "backslash"],
)
def test_php_string_escapes(value: str, literal: str) -> None:
    assert site.php_string(value) == literal


def test_prepend_forces_abspath_to_the_docroot() -> None:
    assert "define('ABSPATH', '/sandbox/docroot/');" in site.render_prepend("/sandbox/docroot")


ENTRIES = ["index.php", "wp-admin", "wp-config.php", "wp-content", "wp-includes", ".htaccess"]


@pytest.mark.parametrize(
    ("uploads", "expected_uploads"),
    [(None, []), ("/volume/uploads", [site.Link("wp-content/uploads", "/volume/uploads")])],
    ids=["plain-instance", "media-pod"],
)
def test_docroot_plan(uploads: str | None, expected_uploads: list[site.Link]) -> None:
    plan = site.docroot_plan(ENTRIES, "/usr/share/wordpress/", uploads)
    assert plan == [
        site.Link("index.php", "/usr/share/wordpress/index.php"),
        site.Link("wp-admin", "/usr/share/wordpress/wp-admin"),
        site.Link("wp-includes", "/usr/share/wordpress/wp-includes"),
        site.Link("wp-content/themes", "/usr/share/wordpress/wp-content/themes"),
        site.Link("wp-content/plugins", "/usr/share/wordpress/wp-content/plugins"),
        *expected_uploads,
    ]


SITE = {"title": "T", "admin_user": "admin", "admin_email": "a@example.com", "admin_password_file": "/s/a"}


@pytest.mark.parametrize(
    ("media", "extra"),
    [(None, {"media_upstream": "http://blog.example.com"}), ("/volume", {"uploads_dir": "/volume"})],
    ids=["plain-instance-forwards-uploads", "media-pod-owns-the-volume"],
)
def test_task_config_for_the_instance_program(media: str | None, extra: dict[str, str]) -> None:
    task = site.task_config("wordpress-1", 31000, CONFIG, SITE, media)
    assert task == {
        "name": "wordpress-1",
        "port": 31000,
        "public_url": "http://blog.example.com/",
        "database": {
            "host": "10.0.0.5",
            "port": 3306,
            "name": "wordpress",
            "user": "wp",
            "password_file": "/sandbox/secrets/db-password",
        },
        "salts": SALTS,
        "local": False,
        "site": SITE,
        **extra,
    }


def test_task_config_forwards_uploads_to_a_given_internal_proxy_address() -> None:
    task = site.task_config("wordpress-1", 31000, CONFIG, SITE, media_upstream="http://10.0.0.9:31080/")
    assert task["media_upstream"] == "http://10.0.0.9:31080"
