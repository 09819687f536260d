"""Turning a fetched body into text: charset detection, HTML to Markdown, JSON, binary summaries.

HTML goes through Beautiful Soup (the standard library's parser) and markdownify: scripts,
styles and other non-content elements are dropped and links are made absolute.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urljoin

from bs4 import BeautifulSoup, Tag
from markdownify import MarkdownConverter

Kind = Literal["html", "json", "text", "binary"]

_DROP = (
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "canvas",
    "iframe",
    "object",
    "embed",
    "head",
)
_META_CHARSET = re.compile(rb"<meta[^>]*?charset\s*=\s*[\"']?\s*([A-Za-z0-9._:-]+)", re.I)
_TEXT_TYPES = {
    "application/javascript",
    "application/ecmascript",
    "application/xml",
    "application/x-sh",
    "application/x-yaml",
    "application/yaml",
    "application/toml",
    "application/sql",
    "application/graphql",
    "application/x-ndjson",
    "application/csv",
    "image/svg+xml",
}
_BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
_CONVERTER = MarkdownConverter(
    heading_style="ATX",
    bullets="-",
    escape_asterisks=False,
    escape_underscores=False,
    escape_misc=False,
)


@dataclass
class Rendered:
    """A body as text for a reader (a person or a model)."""

    kind: Kind
    text: str
    charset: str | None = None
    title: str | None = None


def media_type(content_type: str | None) -> str:
    """``text/html`` from ``text/html; charset=utf-8`` (lower case; empty when missing)."""
    return (content_type or "").split(";", 1)[0].strip().lower()


def classify(content_type: str | None, body: bytes) -> Kind:
    """What a body is, from its media type, or from its first bytes when there is none."""
    mtype = media_type(content_type)
    if mtype in ("text/html", "application/xhtml+xml"):
        return "html"
    if mtype in ("application/json", "text/json") or mtype.endswith("+json"):
        return "json"
    if mtype.startswith("text/") or mtype in _TEXT_TYPES or mtype.endswith("+xml"):
        return "text"
    if mtype:
        return "binary"
    head = body[:1024].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")):
        return "html"
    if b"\x00" in body[:8192]:
        return "binary"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(body[:8192])
    except UnicodeDecodeError:
        return "binary"
    return "text"


def _codec(label: str | None) -> str | None:
    """The Python codec for a charset label, mapped the way browsers map it; ``None`` if unknown."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    # Browsers read Latin-1 and ASCII labels as windows-1252 (WHATWG Encoding).
    return "cp1252" if name in ("iso8859-1", "ascii") else name


def charset_of(content_type: str | None, body: bytes, kind: Kind) -> str:
    """The body's charset: a BOM, then the header, then an HTML ``<meta>``, else UTF-8."""
    for bom, bom_charset in _BOMS:
        if body.startswith(bom):
            return bom_charset
    params = (content_type or "").split(";")[1:]
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and (name := _codec(value)):
            return name
    if kind == "html" and (match := _META_CHARSET.search(body[:4096])):
        name = _codec(match.group(1).decode("ascii"))
        if name:
            # A page that can declare its charset in ASCII is not UTF-16 (WHATWG).
            return "utf-8" if name.startswith("utf-16") else name
    return "utf-8"


def decode(body: bytes, charset: str, *, complete: bool) -> str:
    """Decode with replacement; a character cut off at the end of an incomplete body is dropped."""
    decoder = codecs.getincrementaldecoder(charset)(errors="replace")
    text = decoder.decode(body, final=complete)
    return text[1:] if text.startswith("\ufeff") else text


def html_to_markdown(html: str, base_url: str) -> tuple[str, str | None]:
    """Readable Markdown of a page and its title; links and images are made absolute."""
    soup = BeautifulSoup(html, "html.parser")
    title_tag = soup.find("title")
    title = " ".join(title_tag.get_text().split()) if title_tag else None
    for tag in soup.find_all(_DROP):
        tag.decompose()
    for tag in soup.find_all(["a", "img"]):
        _absolute(tag, base_url)
    try:
        text = _CONVERTER.convert_soup(soup)
    except RecursionError:
        text = soup.get_text("\n")
    text = re.sub(r"[ \t]+\n", "\n", text)
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    if title and title not in text[:500]:
        text = f"# {title}\n\n{text}" if text else f"# {title}"
    return text, title or None


def _absolute(tag: Tag, base_url: str) -> None:
    attr = "href" if tag.name == "a" else "src"
    value = tag.get(attr)
    if not isinstance(value, str):
        return
    if value.strip().lower().startswith(("javascript:", "data:")):
        if tag.name == "img":
            tag.decompose()
        else:
            del tag[attr]
        return
    tag[attr] = urljoin(base_url, value.strip())


def render(body: bytes, content_type: str | None, url: str, *, complete: bool) -> Rendered:
    """The text to show for a body: Markdown for HTML, indented JSON, text, or a binary summary."""
    kind = classify(content_type, body)
    if kind == "binary":
        shown = media_type(content_type) or "unknown type"
        size = f"{len(body)} bytes" if complete else f"more than {len(body)} bytes"
        return Rendered(kind, f"(binary content: {shown}, {size}; not shown)")
    charset = charset_of(content_type, body, kind)
    text = decode(body, charset, complete=complete)
    if kind == "html":
        markdown, title = html_to_markdown(text, url)
        return Rendered(kind, markdown, charset, title)
    if kind == "json":
        try:
            text = json.dumps(json.loads(text), indent=2, ensure_ascii=False)
        except ValueError:
            pass
    return Rendered(kind, text, charset)
