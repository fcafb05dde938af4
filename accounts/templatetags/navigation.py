"""Navigation links that only render when their page exists and the user may open it."""

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html

register = template.Library()


@register.simple_tag(takes_context=True)
def nav_link(context, url_name: str, label: str, icon: str = "", perm: str = ""):
    request = context["request"]
    if perm and not request.user.has_perm(perm):
        return ""
    try:
        url = reverse(url_name)
    except NoReverseMatch:
        return ""
    active = " active" if request.path == url or (url != "/" and request.path.startswith(url)) else ""
    return format_html(
        '<li class="nav-item"><a class="nav-link{}" href="{}"><i class="bi {}"></i> {}</a></li>',
        active,
        url,
        icon,
        label,
    )
