"""The audit event's details as readable lines (never a raw dict) for pages."""

from django import template

from accounts.audit import detail_lines

register = template.Library()


@register.filter
def audit_details(event) -> list[str]:
    return detail_lines(event)
