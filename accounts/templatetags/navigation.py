"""Navigation links that only render when their page exists and the user may open it."""

from django import template
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import mark_safe

register = template.Library()


def _link(context, url_name: str, label: str, icon: str, perm: str, *, item_class: str, link_class: str) -> str:
    request = context["request"]
    if perm and not request.user.has_perm(perm):
        return ""
    try:
        url = reverse(url_name)
    except NoReverseMatch:
        return ""
    active = " active" if request.path == url or (url != "/" and request.path.startswith(url)) else ""
    current = mark_safe(' aria-current="page"') if active else ""
    return format_html(
        '<li class="{}"><a class="{}{}" href="{}"{}><i class="bi {}"></i> {}</a></li>',
        item_class,
        link_class,
        active,
        url,
        current,
        icon,
        label,
    )


@register.simple_tag(takes_context=True)
def nav_link(context, url_name: str, label: str, icon: str = "", perm: str = ""):
    """A top-level link of the navbar."""
    return _link(context, url_name, label, icon, perm, item_class="nav-item", link_class="nav-link")


@register.simple_tag(takes_context=True)
def menu_link(context, url_name: str, label: str, icon: str = "", perm: str = ""):
    """An item of a navbar dropdown: Bootstrap's dropdown-item colours (dark text on the light menu),
    never the navbar's white link colours."""
    return _link(context, url_name, label, icon, perm, item_class="", link_class="dropdown-item")


@register.simple_tag(takes_context=True)
def active_under(context, *url_names: str) -> str:
    """The class " active" on a page at or below one of `url_names`: a dropdown's toggle shows where
    the user is, like the links beside it."""
    path = context["request"].path
    for name in url_names:
        try:
            url = reverse(name)
        except NoReverseMatch:
            continue
        if path.startswith(url):
            return " active"
    return ""
