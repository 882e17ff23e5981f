"""http/ui.py's path handling: which paths are the UI's, which file each names, and what is refused."""

from __future__ import annotations

import json

import pytest

from mesopress.http import ui


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/", "index.html"),
        ("/?x=1", "index.html"),
        ("/#top", "index.html"),
        ("/ui", "index.html"),
        ("/ui/", "index.html"),
        ("/ui/app.js", "app.js"),
        ("/ui/style.css?v=2", "style.css"),
        ("/ui/nope.js", "nope.js"),
    ],
)
def test_ui_paths_name_one_file(path: str, name: str) -> None:
    assert ui.resolve(path) == name


@pytest.mark.parametrize("path", ["/v1/plans", "/uinstall", "/index.html", "//ui/app.js", "/v1/ui/app.js"])
def test_other_paths_belong_to_the_api(path: str) -> None:
    assert ui.resolve(path) is None and ui.answer(path) is None


@pytest.mark.parametrize(
    "path",
    [
        "/ui/..",
        "/ui/../x",
        "/ui/a/../b",
        "/ui/..%2fx",
        "/ui/%2e%2e",
        "/ui//etc/passwd",
        "/ui/.env",
        "/ui/a\\b",
        "/ui/a\x00b",
        "/ui/static/app.js",
    ],
)
def test_traversing_or_nested_names_are_refused_with_the_fix(path: str) -> None:
    with pytest.raises(ui.Refused, match=r"path: .* use /ui/<file>"):
        ui.resolve(path)
    page = ui.answer(path)
    assert page is not None and page.status == 400 and page.content_type == "application/json"
    assert "use /ui/<file>" in json.loads(page.body)["error"]


def test_the_shipped_files_are_served_with_their_types() -> None:
    assert {"index.html", "app.js", "style.css"} <= set(ui.files())
    types = {"index.html": "text/html", "app.js": "text/javascript", "style.css": "text/css"}
    for name, kind in types.items():
        page = ui.answer(f"/ui/{name}")
        assert page is not None and page.status == 200 and page.content_type.startswith(kind)
        assert page.body == (ui.STATIC / name).read_bytes()


def test_an_unknown_file_is_404_listing_what_is_there() -> None:
    page = ui.answer("/ui/nope.js")
    assert page is not None and page.status == 404
    assert json.loads(page.body)["error"].startswith("no UI file 'nope.js'; the UI serves app.js, index.html")


def test_a_missing_static_dir_serves_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setattr(ui, "STATIC", tmp_path / "absent")
    page = ui.answer("/")
    assert page is not None and page.status == 404 and "not installed" in json.loads(page.body)["error"]
