"""The install script: installs once under a lock, reports its outcome, reads the password from a file."""

from __future__ import annotations

import pytest

from mesopress.wordpress import install

SPEC = install.Install(
    "/sb/docroot", "blog.example.com", "It's a blog", "admin", "a@example.com", "/secrets/admin"
)


def test_install_script_loads_the_instance_docroot_and_installs_only_if_not_installed() -> None:
    text = install.render_install_script(SPEC)
    assert text.startswith("<?php\ndefine('ABSPATH', '/sb/docroot/');")
    assert "$_SERVER['HTTP_HOST'] = 'blog.example.com';" in text
    assert text.index("GET_LOCK('mesopress-install'") < text.index("if (is_blog_installed())")
    assert text.index("if (is_blog_installed())") < text.index("wp_install(")
    assert "wp_install('It\\'s a blog', 'admin', 'a@example.com', true" in text


def test_install_script_reads_the_admin_password_from_its_file_only() -> None:
    text = install.render_install_script(SPEC)
    assert "file_get_contents('/secrets/admin')" in text
    assert "wp_slash(rtrim($password" in text


def test_install_script_sets_theme_and_permalinks() -> None:
    text = install.render_install_script(SPEC)
    assert "switch_theme('twentytwentythree');" in text
    assert "set_permalink_structure('/%postname%/');" in text and "flush_rules(false);" in text


@pytest.mark.parametrize(
    ("output", "outcome"),
    [
        ("noise\nmesopress-install: installed user 1\n", install.INSTALLED),
        ("mesopress-install: already-installed\n", install.ALREADY),
        ("mesopress-install: not-installed\n", "not-installed"),
    ],
    ids=["installed", "already", "status-not-installed"],
)
def test_parse_outcome(output: str, outcome: str) -> None:
    assert install.parse_outcome(output) == outcome


@pytest.mark.parametrize(
    "output", ["", "<h1>Error establishing a database connection</h1>"], ids=["silent", "db-error-page"]
)
def test_an_unfinished_install_is_an_error_with_the_output(output: str) -> None:
    with pytest.raises(ValueError, match="did not finish"):
        install.parse_outcome(output)


def test_status_script_prints_the_marker() -> None:
    text = install.render_status_script("/sb/docroot", "h")
    assert "is_blog_installed() ? ' installed' : ' not-installed'" in text


def test_http_form_and_installed_page() -> None:
    form = install.install_form("T", "admin", "a@example.com", "pw")
    assert form["admin_password"] == form["admin_password2"] == "pw" and form["weblog_title"] == "T"
    assert install.page_says_installed("<h1>Already Installed</h1>")
    assert not install.page_says_installed("<h1>Welcome</h1>")
