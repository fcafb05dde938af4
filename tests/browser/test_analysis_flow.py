"""In a real Chromium: log in, upload a photo, see the annotated result, and see the dashboard
update live when a new analysis is logged (WebSocket through a real Daphne server)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from detection.models import DetectionLog

pytestmark = pytest.mark.browser


def _analyse_in_thread(data: bytes, user) -> DetectionLog:
    """ORM work off Playwright's event-loop thread (Django refuses sync DB calls inside a loop)."""
    from django.db import connection

    from detection.services.analysis import analyse_and_log

    def work():
        try:
            return analyse_and_log(data, user=user, source="api")
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result(timeout=120)


def test_upload_result_and_live_dashboard(classifier, face_jpeg, logged_in_page, staff_user, tmp_path):
    page = logged_in_page
    photo = tmp_path / "astronaut.jpg"
    photo.write_bytes(face_jpeg)

    page.goto(f"{page.base_url}/analyse/")
    page.set_input_files("#files", str(photo))
    assert "astronaut.jpg" in page.text_content("#file-list")
    page.click("#upload-submit")
    page.wait_for_url("**/detections/*/", timeout=120_000)
    page.wait_for_function("() => { const i = document.getElementById('annotated');"
                           " return i && i.complete && i.naturalWidth === 640; }")  # fmt: skip
    assert page.locator("#faces tbody tr").count() == 1
    assert "astronaut.jpg" in page.content() and "total" in page.text_content("#timings")

    page.goto(f"{page.base_url}/")
    page.wait_for_function("() => window.Chart && document.getElementById('stat-faces').textContent.trim() === '1'")
    page.wait_for_timeout(1500)  # let the notification socket open
    log = _analyse_in_thread(face_jpeg, staff_user)
    page.wait_for_selector(f'#live-events a[href="/detections/{log.pk}/"]', timeout=30_000)
    page.wait_for_function("() => document.getElementById('stat-faces').textContent.trim() === '2'")
    assert page.js_errors == []
