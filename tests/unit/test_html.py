"""A fetched body as text: what it is (from its media type or its first bytes), its charset (a
BOM, the header, a ``<meta>``, as browsers read them), and HTML as Markdown with absolute links."""

from __future__ import annotations

import codecs

import pytest

from agent_tui.core.tools.html import Kind, charset_of, classify, html_to_markdown, render

URL = "https://example.com/docs/page.html"


@pytest.mark.parametrize(
    ("content_type", "body", "kind"),
    [
        ("text/html; charset=utf-8", b"", "html"),
        ("application/xhtml+xml", b"", "html"),
        ("application/json", b"", "json"),
        ("application/problem+json", b"", "json"),
        ("text/csv", b"", "text"),
        ("application/x-yaml", b"", "text"),
        ("application/atom+xml", b"", "text"),
        ("image/png", b"<html>", "binary"),  # the header decides over the bytes
        (None, b"  <!DOCTYPE html><html></html>", "html"),
        (None, b"<HTML><body>x</body></HTML>", "html"),
        (None, b"plain words\n", "text"),
        (None, b"PK\x03\x04\x00\x00", "binary"),
        (None, b"caf\xe9 in latin-1", "binary"),  # not UTF-8, no header: not guessed at
        ("", "é".encode() * 10, "text"),
    ],
)
def test_what_a_body_is(content_type: str | None, body: bytes, kind: str) -> None:
    assert classify(content_type, body) == kind


@pytest.mark.parametrize(
    ("content_type", "body", "kind", "charset"),
    [
        ("text/plain; charset=utf-8", codecs.BOM_UTF16_LE + b"x\x00", "text", "utf-16-le"),
        ("text/plain", codecs.BOM_UTF16_BE + b"\x00x", "text", "utf-16-be"),
        ("text/plain", codecs.BOM_UTF8 + b"x", "text", "utf-8"),
        ('text/html; charset="ISO-8859-1"', b"", "html", "cp1252"),  # as browsers read Latin-1
        ("text/plain; charset=us-ascii", b"", "text", "cp1252"),
        ("text/plain; charset=koi8-r", b"", "text", "koi8-r"),
        ("text/plain; charset=no-such-charset", b"", "text", "utf-8"),
        ("text/html", b'<meta charset="shift_jis">', "html", "shift_jis"),
        ("text/html", b"<meta http-equiv=x content='text/html; charset=utf-16'>", "html", "utf-8"),
        ("text/html", b'<meta charset="bogus">', "html", "utf-8"),
        ("text/plain", b'<meta charset="shift_jis">', "text", "utf-8"),  # only HTML has <meta>
        (None, b"", "text", "utf-8"),
    ],
)
def test_the_charset_as_browsers_find_it(
    content_type: str | None, body: bytes, kind: Kind, charset: str
) -> None:
    assert charset_of(content_type, body, kind) == charset


def test_html_becomes_markdown_with_absolute_links_and_no_scripts() -> None:
    page = """<html><head><title> The   Page </title><style>p{}</style></head><body>
    <script>alert(1)</script><h2>Part</h2><p>See <a href="../other.html">other</a>,
    <a href="javascript:evil()">bad</a> and <img src="img/a.png" alt="pic">
    <img src="data:image/png;base64,xx" alt="inline"></p>
    <ul><li>one</li><li>two</li></ul></body></html>"""

    text, title = html_to_markdown(page, URL)

    assert title == "The Page"
    assert text.startswith("# The Page\n\n## Part")  # the title, not in the body, leads
    assert "[other](https://example.com/other.html)" in text
    assert "![pic](https://example.com/docs/img/a.png)" in text
    assert "bad" in text and "javascript" not in text
    assert "inline" not in text and "data:" not in text
    assert "alert" not in text and "p{}" not in text
    assert "- one\n- two" in text


def test_a_page_with_only_a_title_and_one_without() -> None:
    assert html_to_markdown("<head><title>Alone</title></head>", URL) == ("# Alone", "Alone")
    assert html_to_markdown("<p>no title</p>", URL) == ("no title", None)


def test_rendering_each_kind() -> None:
    binary = render(b"\x89PNG\x00", "image/png", URL, complete=True)
    assert binary.text == "(binary content: image/png, 5 bytes; not shown)"
    cut = render(b"\x00\x01", None, URL, complete=False)
    assert cut.text == "(binary content: unknown type, more than 2 bytes; not shown)"

    data = render(b'{"a": [1, "\xc3\xa9"]}', "application/json", URL, complete=True)
    assert data.kind == "json" and data.text == '{\n  "a": [\n    1,\n    "é"\n  ]\n}'
    broken = render(b'{"a": ', "application/json", URL, complete=False)
    assert broken.text == '{"a": '  # not JSON after all: shown as it came

    page = render(
        b"<title>T</title><p>caf\xe9</p>", "text/html; charset=latin-1", URL, complete=True
    )
    assert (page.kind, page.charset, page.title) == ("html", "cp1252", "T")
    assert "café" in page.text

    # a character cut off at the end of an incomplete body is dropped, not shown as garbage
    partial = render("é".encode()[:1], "text/plain", URL, complete=False)
    assert partial.text == ""
    whole = render("é".encode()[:1], "text/plain", URL, complete=True)
    assert whole.text == "\ufffd"
    assert render(codecs.BOM_UTF8 + b"hi", "text/plain", URL, complete=True).text == "hi"
