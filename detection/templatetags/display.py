"""How the pages show recurring values: job status badges, times and durations, each in one place.

Pages and scripts share these rules: `status_badges` is rendered with json_script for the scripts
that update a badge live (static/js/realtime.js `MaskPortal.badge`), and `MaskPortal.time` writes
times as `when` does.
"""

from __future__ import annotations

from datetime import datetime

import markdown as markdown_lib
import nh3
from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()

#: Bootstrap colour of every job, item and model-version state.
STATUS_COLOURS = {
    "queued": "info",
    "pending": "info",
    "running": "primary",
    "succeeded": "success",
    "partial": "warning",
    "done": "success",
    "active": "success",
    "accepted": "success",
    "failed": "danger",
    "rejected": "danger",
    "cancelled": "secondary",
    "candidate": "warning",
    "retired": "secondary",
}
#: Words for states whose value is not already the word a user reads.
STATUS_WORDS = {"done": "Done", "pending": "Pending", "partial": "Finished with failures"}
TIME_FORMAT = "%Y-%m-%d %H:%M"


def status_word(status: str) -> str:
    return STATUS_WORDS.get(status, status.replace("_", " ").capitalize())


@register.simple_tag
def status_badge(status: str, element_id: str = "") -> str:
    """<span class="badge text-bg-COLOUR">Word</span> for a status value."""
    colour = STATUS_COLOURS.get(status, "secondary")
    if element_id:
        return format_html(
            '<span class="badge text-bg-{}" id="{}" data-status="{}">{}</span>',
            colour,
            element_id,
            status,
            status_word(status),
        )
    return format_html('<span class="badge text-bg-{}" data-status="{}">{}</span>', colour, status, status_word(status))


@register.simple_tag
def status_badges() -> dict[str, dict[str, str]]:
    """Colour and word of every status, for scripts (render with json_script)."""
    return {status: {"colour": colour, "word": status_word(status)} for status, colour in STATUS_COLOURS.items()}


@register.filter
def when(value: datetime | None) -> str:
    """The one way times are written on every page (local time, to the minute; seconds in the tooltip)."""
    if not value:
        return "—"
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        local.isoformat(),
        local.strftime("%Y-%m-%d %H:%M:%S"),
        local.strftime(TIME_FORMAT),
    )


@register.filter
def duration_ms(value: float | int | None) -> str:
    """A duration given in milliseconds, in the unit that reads best: "< 1 ms", "42 ms", "1.3 s"."""
    if value is None or value == "":
        return "—"
    ms = float(value)
    if ms < 1:
        return "< 1 ms"
    if ms < 1000:
        return f"{ms:.0f} ms"
    return f"{ms / 1000:.1f} s"


#: How each stored timing reads: a label, and whether it counts milliseconds, seconds or frames.
TIMING_LABELS = {
    "decode": ("Decoding", "ms"),
    "detect": ("Face detection", "ms"),
    "classify": ("Mask classifier", "ms"),
    "recognize": ("Recognition", "ms"),
    "track": ("Tracking", "ms"),
    "store": ("Storing", "ms"),
    "total": ("Total", "ms"),
    "duration_s": ("Seen for", "s"),
    "frames": ("Frames", "count"),
}


@register.filter
def timing_items(timings: dict | None) -> list[tuple[str, str]]:
    """(label, value) for each stored timing, in its own unit and in pipeline order (unknown keys
    last); stages that did not run (0 ms) are left out."""
    timings = timings or {}
    order = [key for key in TIMING_LABELS if key in timings] + sorted(set(timings) - set(TIMING_LABELS))
    items = []
    for key in order:
        value = timings[key]
        label, unit = TIMING_LABELS.get(key, (key.replace("_", " ").capitalize(), "ms"))
        if not isinstance(value, int | float):
            continue
        if unit == "s":
            items.append((label, f"{value:.1f} s"))
        elif unit == "count":
            items.append((label, f"{value:.0f}"))
        elif value > 0:
            items.append((label, duration_ms(value)))
    return items


@register.filter
def markdown(text: str | None) -> str:
    """Markdown (model cards) as HTML, sanitised: only harmless tags and attributes survive."""
    html = markdown_lib.markdown(text or "", extensions=["tables", "fenced_code", "sane_lists"])
    return mark_safe(nh3.clean(html))  # noqa: S308  (nh3 removed every unsafe tag and attribute)
