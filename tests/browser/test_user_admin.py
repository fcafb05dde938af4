"""An Admin resets a Staff user's password in Chromium; the user logs in with it, is kept on the
password change page until they pick their own, then works normally."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

NEW_PASSWORD = "a-fresh-and-long-passphrase-42"


def test_reset_password_then_forced_change_at_next_login(staff_user, admin_page, browser, artifacts):
    page = admin_page
    username = staff_user.username
    page.goto(f"{page.base_url}/accounts/users/{staff_user.pk}/")
    page.click("#reset-password")
    password = page.text_content("#new-password").strip()
    assert len(password) >= 12
    page.screenshot(path=artifacts / "password-reset-shown-once.png", full_page=True)

    user_page = browser.new_page()
    user_page.goto(f"{page.base_url}/accounts/login/")
    user_page.fill("#id_username", username)
    user_page.fill("#id_password", password)
    user_page.click("button[type=submit]")
    user_page.wait_for_url("**/accounts/password/")
    assert user_page.is_visible("#password-change-required")
    user_page.goto(f"{page.base_url}/detections/")
    user_page.wait_for_url("**/accounts/password/")  # nothing else until the change
    user_page.screenshot(path=artifacts / "password-change-required.png", full_page=True)
    user_page.fill("#id_old_password", password)
    user_page.fill("#id_new_password1", NEW_PASSWORD)
    user_page.fill("#id_new_password2", NEW_PASSWORD)
    user_page.get_by_role("button", name="Change password").click()
    user_page.wait_for_url(f"{page.base_url}/")
    assert "Your password was changed." in user_page.content()
    user_page.goto(f"{page.base_url}/detections/")
    assert user_page.url.endswith("/detections/")
    user_page.close()
