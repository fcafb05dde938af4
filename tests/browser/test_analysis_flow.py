"""In a real Chromium: log in, upload a photo, see the annotated result, and see the dashboard
update live when a new analysis is logged (WebSocket through the real web server)."""

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
    page.wait_for_function(
        "() => { const i = document.getElementById('photo-image'); return i && i.complete && i.naturalWidth === 640; }"
    )
    assert page.locator("#faces tbody tr").count() == 1
    assert "astronaut.jpg" in page.content() and "total" in page.text_content("#timings").lower()

    page.goto(f"{page.base_url}/")
    page.wait_for_function("() => window.Chart && document.getElementById('stat-faces').textContent.trim() === '1'")
    page.wait_for_timeout(1500)  # let the notification socket open
    log = _analyse_in_thread(face_jpeg, staff_user)
    page.wait_for_selector(f'#live-events a[href="/detections/{log.pk}/"]', timeout=30_000)
    page.wait_for_function("() => document.getElementById('stat-faces').textContent.trim() === '2'")
    assert page.js_errors == []


@pytest.fixture
def batch_worker(worker_factory):
    """Started before the browser: waiting for it reads the result database (sync ORM)."""
    return worker_factory().start()


def test_batch_upload_shows_progress_then_results(classifier, face_jpeg, batch_worker, logged_in_page, tmp_path):
    worker = batch_worker
    page = logged_in_page
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"photo{i}.jpg")
        paths[-1].write_bytes(face_jpeg)
    (tmp_path / "notes.txt").write_bytes(b"not a photo")
    paths.append(tmp_path / "notes.txt")

    page.goto(f"{page.base_url}/analyse/")
    page.set_input_files("#files", [str(p) for p in paths])
    page.click("#upload-submit")
    page.wait_for_url("**/batches/*/", timeout=60_000)
    assert page.locator("#batch-bar").count() == 1
    try:
        page.wait_for_selector("tr.item-done >> nth=2", timeout=120_000)  # reloaded with the result table
    except Exception as exc:
        raise AssertionError(worker.output()) from exc
    assert page.locator("tr.item-done img.thumb").count() == 3
    assert "not a recognised image" in page.text_content("tr.item-failed")
    assert page.text_content("#batch-status").strip() == "Finished with failures"  # notes.txt failed
    assert page.js_errors == []
