"""The test renderer of Mustache (tests/support/mustache.py) against the spec's behaviour it claims."""

from __future__ import annotations

import pytest

from support.mustache import MustacheError, names, render


def test_variables_are_escaped_and_triple_braces_are_raw() -> None:
    context = {"title": 'Tom & Jerry\'s <"Blog">'}
    assert render("{{title}}", context) == "Tom &amp; Jerry&#x27;s &lt;&quot;Blog&quot;&gt;"
    assert render("{{{title}}}", context) == 'Tom & Jerry\'s <"Blog">'
    assert render("{{& title }}", context) == 'Tom & Jerry\'s <"Blog">'


def test_dotted_names_with_dashes_and_numbers() -> None:
    context = {
        "resource": {"assets": {"uris": {"wheel-house": "http://h/w.tgz"}}},
        "n": {"cpus": 0.5, "k": 2},
    }
    assert (
        render("{{resource.assets.uris.wheel-house}} {{n.cpus}} {{n.k}}", context) == "http://h/w.tgz 0.5 2"
    )


def test_missing_names_render_empty_unless_strict() -> None:
    assert render("[{{a.b}}]", {"a": {}}) == "[]"
    with pytest.raises(MustacheError, match="a.b: no such name"):
        render("[{{a.b}}]", {"a": {}}, strict=True)


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("x", "yes"),
        ("", "no"),
        (None, "no"),
        (False, "no"),
        (True, "yes"),
        ([], "no"),
        ({}, "no"),
        (0, "yes"),
    ],
)
def test_sections_and_inverted_sections_follow_truthiness(value: object, shown: str) -> None:
    assert render("{{#v}}yes{{/v}}{{^v}}no{{/v}}", {"v": value}) == shown


def test_sections_iterate_lists_and_push_mappings() -> None:
    context = {"items": [{"n": 1}, {"n": 2}], "outer": "o", "m": {"inner": "i"}, "words": ["a", "<b>"]}
    assert render("{{#items}}{{n}}{{outer}},{{/items}}", context) == "1o,2o,"
    assert render("{{#m}}{{inner}}-{{outer}}{{/m}}", context) == "i-o"
    assert render("{{#words}}<{{.}}>{{/words}}", context) == "<a><&lt;b&gt;>"


def test_a_brace_after_a_tag_is_text() -> None:
    assert render('{"size":{{n}}}', {"n": 3}) == '{"size":3}'
    assert render("{{{t}}}}", {"t": "<x>"}) == "<x>}"


def test_comments_are_dropped_and_names_are_listed() -> None:
    template = "{{! a note }}{{a.b}}{{#c}}{{{d}}}{{.}}{{/c}}{{^e}}{{/e}}"
    assert render(template, {"a": {"b": 1}}) == "1"
    assert names(template) == {"a.b", "c", "d", "e"}


@pytest.mark.parametrize(
    ("template", "reason"),
    [
        ("{{#a}}x", "section 'a' is never closed"),
        ("{{#a}}{{/b}}", "closes a"),
        ("{{/a}}", "closes nothing"),
        ("{{> partial}}", "unsupported tag"),
        ("{{=<% %>=}}", "unsupported tag"),
        ("{{{a}}", "unbalanced braces"),
        ("{{a b}}", "bad name"),
    ],
)
def test_templates_it_cannot_render_are_refused(template: str, reason: str) -> None:
    with pytest.raises(MustacheError, match=reason):
        render(template, {"a": 1})
