"""In a real Chromium: the first-run dashboard says what to do first; a burst of alerts becomes one
dismissible group on the dashboard (never a stack of toasts, never on other pages); the Jobs panel
follows a job live."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.browser.test_batch_page import screenshot

pytestmark = pytest.mark.browser


def _in_thread(work):
    """ORM work off Playwright's event-loop thread (Django refuses sync DB calls inside a loop)."""
    from django.db import connection

    def run():
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result(timeout=60)


def _alerts(count: int) -> None:
    from detection.services import alerts

    for i in range(count):
        alerts.notify(
            {
                "level": "danger",
                "text": f"Unknown person without a mask #{i}",
                "log_id": 1000 + i,
                "camera": "Gate",
                "camera_id": None,
            }
        )


def _running_batch(user):
    from detection.models import BatchJob
    from detection.services import batches

    batch = BatchJob.objects.create(owner=user, status="running", total=10, done=3)
    batches.publish_progress(batch.pk)
    return batch


def test_first_steps_grouped_alerts_and_live_jobs(logged_in_page, browser, staff_user):
    page = logged_in_page
    page.goto(f"{page.base_url}/")
    assert page.locator("#first-steps").is_visible()
    assert page.locator('#first-steps a[href="/analyse/"]').count() == 1
    screenshot(page, "dashboard-first-run")

    other = page.context.new_page()  # the same user on another page
    other.goto(f"{page.base_url}/detections/")
    page.wait_for_timeout(1500)  # let both notification sockets open
    other.wait_for_timeout(100)

    _in_thread(lambda: _alerts(8))
    page.wait_for_function(
        "() => (document.getElementById('alert-count') || {}).textContent === '8 alerts'", timeout=30_000
    )
    assert page.locator("#toasts .toast").count() == 1
    assert page.locator("#alert-list li").count() == 4  # the latest three and "and 5 more"
    assert page.text_content("#alert-list li:first-child") == "Gate: Unknown person without a mask #7"
    assert "and 5 more" in page.text_content("#alert-list")
    screenshot(page, "dashboard-grouped-alerts")
    page.click("#alert-dismiss")
    assert page.locator("#alert-group").count() == 0
    assert other.locator("#toasts .toast").count() == 0  # not over every page

    batch = _in_thread(lambda: _running_batch(staff_user))
    page.wait_for_selector(f'#jobs a[href="/batches/{batch.pk}/"]', timeout=30_000)
    assert page.text_content(f'#jobs li:has(a[href="/batches/{batch.pk}/"]) .badge') == "Running"
    screenshot(page, "dashboard-live-jobs")
    assert page.js_errors == []
