"""T02/T03: whatever Markdown comes in, the rendered HTML holds only allow-listed markup."""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from clausebook.rendering import ALLOWED_ATTRIBUTES, ALLOWED_TAGS, URL_SCHEMES, render_markdown

HOSTILE = [
    "<script>window.__pwn=1</script>",
    '<img src=x onerror="window.__pwn=1">',
    "[x](javascript:alert(1))",
    '[x](" java\tscript:alert(1)")',
    "![](data:text/html,<script>alert(1)</script>)",
    '<iframe src="https://evil.example"></iframe>',
    '<svg onload="alert(1)"><circle/></svg>',
    '<a href=" java&#x09;script:alert(1)">y</a>',
    '<div hx-get="/api/v1/me/" hx-trigger="load">x</div>',
    '<button hx-on:click="alert(1)">b</button>',
    '<p data-hx-post="/x">z</p>',
    "[link](JaVaScRiPt:alert(1))",
    "[ok](https://example.org) **bold** `code`",
    "&lt;script&gt; &#106;avascript:",
    "| a | b |\n|---|---|\n| <b onclick=x>1</b> | 2 |",
]


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, attrs))


def assert_inert(html: str) -> None:
    collector = _Collector()
    collector.feed(html)
    for tag, attrs in collector.elements:
        assert tag in ALLOWED_TAGS, f"tag <{tag}> escaped the allow-list in {html!r}"
        allowed = ALLOWED_ATTRIBUTES.get(tag, set()) | {"rel"}
        for name, value in attrs:
            assert name in allowed, f"attribute {name} on <{tag}> in {html!r}"
            assert not name.startswith(("on", "hx", "data-")), name
            if name == "href" and value:
                scheme = urlsplit(value.strip()).scheme.lower()
                assert scheme in URL_SCHEMES | {""}, f"href scheme {scheme!r} in {html!r}"


def test_t02_known_hostile_snippets_render_inert():
    for snippet in HOSTILE:
        html = render_markdown(snippet)
        assert_inert(html)
        assert "<script" not in html.lower()
        # Text may mention javascript: (it is shown, escaped); no link may point there.
        assert 'href="javascript' not in html.lower().replace(" ", "")


def test_t02_safe_markdown_still_renders():
    html = render_markdown("[ok](https://example.org) **bold** `code`\n\n- item")
    assert '<a href="https://example.org"' in html
    assert "<strong>bold</strong>" in html
    assert "<code>code</code>" in html
    assert "<li>item</li>" in html


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.one_of(st.sampled_from(HOSTILE), st.text(max_size=40)),
        min_size=1,
        max_size=6,
    )
)
def test_t02_any_mix_of_text_and_hostile_markup_renders_inert(parts):
    assert_inert(render_markdown("\n".join(parts)))


def test_t03_htmx_attributes_never_survive():
    html = render_markdown(
        '<div hx-get="/x" hx-trigger="load" data-hx-post="/y" hx-on:click="z">t</div>'
    )
    assert "<div" not in html  # raw HTML is shown as text, never made an element
    assert "&lt;div hx-get" in html
    assert_inert(html)
