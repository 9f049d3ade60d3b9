"""Mail merge without a server: both fallback spellings, empty values, unknown names found
before rendering, HTML escaping of contact data, and what the sandbox refuses."""

import pytest

from contactflow.mailsuite.merge import (
    MergeError,
    compile_template,
    expand_shorthand,
    html_to_text,
    known_placeholders,
    merge_values,
    render,
    unknown_placeholders,
)
from contactflow.mailsuite.tracking import Links, make_token, read_token, tracked_html


def _render(html: str, **fields: object) -> str:
    compiled = compile_template("s", html)
    return render(compiled, merge_values(fields, ["plan"], "https://u.example/x")).html


def test_both_fallback_spellings() -> None:
    assert expand_shorthand("{{first_name|there}}") == '{{ first_name | default("there") }}'
    assert expand_shorthand("{{ city | title }}") == "{{ city | title }}"  # a filter stays one
    assert _render("Hi {{first_name|there}}!") == "Hi there!"
    assert _render("Hi {{first_name|dear friend}}!", first_name="Ann") == "Hi Ann!"
    assert _render('Hi {{ first_name | default("there") }}!', first_name="") == "Hi there!"
    assert _render("Plan {{plan|free}}", custom_fields={"plan": "gold"}) == "Plan gold"
    assert _render("[{{ last_name }}]") == "[]"  # known, empty, no fallback: nothing


def test_contact_values_are_escaped_in_html_only() -> None:
    compiled = compile_template(
        "Hi {{ first_name }}", "<p>{{ first_name }}</p>", "{{ first_name }}"
    )
    rendered = render(compiled, merge_values({"first_name": "<b>A&B</b>"}, [], "u"))
    assert rendered.html == "<p>&lt;b&gt;A&amp;B&lt;/b&gt;</p>"
    assert rendered.text == "<b>A&B</b>"
    assert rendered.subject == "Hi <b>A&B</b>"


def test_line_breaks_cannot_reach_the_subject_header() -> None:
    compiled = compile_template("Hi {{ first_name }}", "x")
    values = merge_values({"first_name": "Ann\r\nBcc: victim@example.com"}, [], "u")
    assert render(compiled, values).subject == "Hi Ann Bcc: victim@example.com"


def test_unknown_placeholders_are_found_before_rendering() -> None:
    compiled = compile_template("{{ subjectline }}", "{{ first_name }} {{ plan|x }} {{ shoe|4 }}")
    known = known_placeholders(["plan"])
    assert unknown_placeholders(compiled, known) == ["shoe", "subjectline"]
    with pytest.raises(MergeError, match="'shoe' is undefined"):
        render(compile_template("s", "{{ shoe }}"), merge_values({}, [], "u"))


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("{{ first_name ", "expected"),
        ("{% if %}", "line 1"),
        ("{% for x in range(9) %}{% endfor %}", "For is not allowed"),
        ("{{ email.upper() }}", "Call is not allowed"),
        ("{{ 'x' * 999999999 }}", "Mul is not allowed"),
        ("{{ 9 ** 9 ** 9 }}", "Pow is not allowed"),
        ("{% include 'x' %}", "Include is not allowed"),
        ("{{ first_name | center(999999999) }}", "No filter named 'center'"),
        ("{{ first_name.__class__.__mro__ }}", None),
    ],
)
def test_the_sandbox_refuses_what_a_merge_does_not_need(source: str, reason: str | None) -> None:
    if reason is None:
        compiled = compile_template("s", source)
        with pytest.raises(MergeError):
            render(compiled, merge_values({"first_name": "x"}, [], "u"))
        return
    with pytest.raises(MergeError, match=reason):
        compile_template("s", source)


def test_the_text_part_keeps_paragraphs_and_links() -> None:
    html = (
        "<html><head><style>p{}</style></head><body><h1>News</h1><p>Read "
        '<a href="https://x.example/a?b=1&amp;c=2">this</a>.</p><p>Bye</p></body></html>'
    )
    assert html_to_text(html) == "News\n\nRead this (https://x.example/a?b=1&c=2).\n\nBye\n"


def test_tokens_are_bound_to_kind_email_and_target() -> None:
    key = b"k" * 32
    click = make_token(key, "click", "email1", "https://a.example/")
    found = read_token(key, "click", click)
    assert found is not None
    assert (found.email_id, found.url) == ("email1", "https://a.example/")
    assert read_token(key, "open", click) is None
    assert read_token(b"other" * 8, "click", click) is None
    assert read_token(key, "click", click[:-2] + "AA") is None
    assert read_token(key, "click", "no-dot") is None


def test_only_web_links_go_through_the_redirect() -> None:
    links = Links("https://t.example", b"k" * 32)
    html = (
        "<a href=\"https://a.example/x\">a</a> <A HREF='http://b.example'>b</A> "
        '<a href="mailto:m@example.com">m</a> <a href="#top">t</a> '
        '<a href="https://t.example/mailsuite/v1/unsubscribe/u">u</a></body>'
    )
    out = tracked_html(
        html,
        "e1",
        links,
        opens=True,
        clicks=True,
        keep="https://t.example/mailsuite/v1/unsubscribe/u",
    )
    assert out.count("https://t.example/mailsuite/v1/track/click/") == 2
    assert "https://a.example/x" not in out
    assert 'href="mailto:m@example.com"' in out
    assert 'href="#top"' in out
    assert 'href="https://t.example/mailsuite/v1/unsubscribe/u"' in out
    assert out.endswith('height:1px"></body>')
