"""Model cards as HTML: the card's Markdown through markdown-it-py (CommonMark, with
tables and strikethrough), safe to put in a page whatever the card's author wrote.

    html = card_html(markdown)     # Markup, ready for the template

- Raw HTML is off: `<script>` in a card is shown as text, never run.
- Links go through markdown-it's URL check (no `javascript:`, `vbscript:`, `file:` or
  non-image `data:` URLs).
- Images become links to their URL: a page fetches nothing from another host.
- Headings move down two levels (`#` -> `<h3>`): the card sits under the page's `<h1>`
  and its section's `<h2>`, and the page keeps one outline.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from html import escape
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.token import Token
from markupsafe import Markup

SHIFT = 2


def card_html(markdown: str) -> Markup:
    return Markup(_parser().render(markdown))  # noqa: S704 - rendered with raw HTML off


@cache
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    md.enable(["table", "strikethrough"])
    md.core.ruler.push("shift_headings", _shift_headings)
    md.add_render_rule("image", _image_as_link)
    return md


def _shift_headings(state: StateCore) -> None:
    for token in state.tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1:]) + SHIFT, 6)}"


def _image_as_link(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    token = tokens[idx]
    alt = self.renderInlineAsText(token.children or [], options, env) or "image"
    src = str(token.attrGet("src") or "")
    return f'<a href="{escape(src)}" class="card-image">{escape(alt)} (image)</a>'
