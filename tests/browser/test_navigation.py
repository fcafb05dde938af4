"""The navigation as people see it in Chromium: every Administration menu item is legible (text
contrast against the menu it is drawn on, also under the pointer) and opens its page."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

#: WCAG AA for normal text.
MIN_CONTRAST = 4.5

#: The contrast of an element's text against the first opaque background behind it.
CONTRAST_JS = """(el) => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  let bg = null;
  for (let node = el; node && node.nodeType === 1; node = node.parentElement) {
    const c = rgb(getComputedStyle(node).backgroundColor);
    if (c.length === 3 || (c.length === 4 && c[3] > 0.9)) { bg = c; break; }
  }
  bg = bg || [255, 255, 255];
  const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(bg)].sort((x, y) => y - x);
  return (a + 0.05) / (b + 0.05);
}"""


def test_administration_menu_items_are_legible_and_open_their_pages(admin_page, artifacts):
    page = admin_page
    page.goto(f"{page.base_url}/")
    toggle = page.get_by_role("button", name="Administration")
    menu = page.locator("nav .dropdown-menu")
    toggle.click()
    items = menu.locator("a")
    labels = [t.strip() for t in items.all_inner_texts()]
    assert {"People", "Cameras", "Models", "Training jobs", "Settings", "Users", "Audit log"} <= set(labels)
    for i, label in enumerate(labels):
        item = items.nth(i)
        assert item.is_visible(), label
        assert item.evaluate(CONTRAST_JS) >= MIN_CONTRAST, f"{label} is hard to read"
        item.hover()
        assert item.evaluate(CONTRAST_JS) >= MIN_CONTRAST, f"{label} is hard to read under the pointer"
    page.screenshot(path=artifacts / "administration-menu.png")

    menu.get_by_text("Users", exact=True).click()
    page.wait_for_url("**/accounts/users/")
    page.get_by_role("button", name="Administration").click()
    page.locator("nav .dropdown-menu").get_by_text("Audit log", exact=True).click()
    page.wait_for_url("**/accounts/audit/")
    assert page.js_errors == []
