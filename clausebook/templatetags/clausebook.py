from __future__ import annotations

from django import template
from django.utils.safestring import SafeString

from clausebook.rendering import render_markdown

register = template.Library()


@register.filter(name="markdown")
def markdown_filter(text: str) -> SafeString:
    """Render untrusted Markdown safely: ``{{ message.content|markdown }}``."""
    return render_markdown(text or "")
