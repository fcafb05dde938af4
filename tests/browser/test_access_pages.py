"""Logged out, a page sends the visitor to the login page and back where they were going; after
logging out, Back does not show a bare 403. A Staff user on an admin page sees a styled 403 with the
navigation and the reason."""

from __future__ import annotations

import pytest

from tests.factories import PASSWORD

pytestmark = pytest.mark.browser


def test_login_redirect_returns_to_the_page_and_logout_back_asks_to_log_in(server_url, staff_user, browser, artifacts):
    username = staff_user.username
    page = browser.new_page()
    page.goto(f"{server_url}/detections/")
    page.wait_for_url("**/accounts/login/?next=/detections/")
    assert page.is_visible("text=Log in to open that page.")
    page.screenshot(path=artifacts / "login-with-next.png")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/detections/")

    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/accounts/login/")
    page.go_back()
    page.wait_for_url("**/accounts/login/?next=/detections/")
    assert "403" not in page.content()
    page.close()


def test_staff_on_an_admin_page_see_why_and_can_navigate_on(logged_in_page, artifacts):
    page = logged_in_page
    response = page.goto(f"{page.base_url}/settings/")
    assert response.status == 403
    assert "needs the Admin role" in page.text_content("#error-reason")
    assert "Staff role" in page.text_content("#error-reason")
    page.screenshot(path=artifacts / "staff-403.png", full_page=True)
    page.get_by_role("link", name="Detections").click()
    page.wait_for_url("**/detections/")
    assert page.js_errors == []
