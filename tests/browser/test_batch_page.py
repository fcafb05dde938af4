"""In a real Chromium with a real worker: a running batch is cancelled from its page; the counts
stop, the badge says Cancelled in the shared colours, Cancel disappears, and the finished page
shows the batch summary, mask-coloured face thumbnails and links to its faces and CSV."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.conf import settings

from detection.services import batches
from detection.services.uploads import UploadItem

pytestmark = pytest.mark.browser


def screenshot(page, name: str) -> Path:
    """Saved under var/…/screenshots as a test artifact."""
    folder = Path(settings.VAR_DIR) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def batch_worker(classifier, worker_factory):
    """Started before the browser: waiting for it reads the result database (sync ORM)."""
    return worker_factory().start()


def _create_batch(user, data: bytes, count: int):
    """ORM work off Playwright's event-loop thread (Django refuses sync DB calls inside a loop)."""
    from django.db import connection

    def work():
        try:
            return batches.create_batch(user, [UploadItem(f"p{i:02d}.jpg", data) for i in range(count)], mode="fast")
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(work).result(timeout=60)


def test_cancel_a_running_batch_from_its_page(face_jpeg, batch_worker, logged_in_page, staff_user):
    worker = batch_worker
    page = logged_in_page
    page.goto(f"{page.base_url}/batches/")
    batch = _create_batch(staff_user, face_jpeg, 30)
    page.goto(f"{page.base_url}/batches/{batch.pk}/")
    try:
        page.wait_for_function("() => Number(document.getElementById('batch-done').textContent) >= 1", timeout=120_000)
    except Exception as exc:
        raise AssertionError(worker.output()) from exc
    page.click("#batch-cancel")
    page.wait_for_selector('#batch-status[data-status="cancelled"]')
    assert page.locator("#batch-cancel").count() == 0
    assert "text-bg-secondary" in page.get_attribute("#batch-status", "class")
    stopped_at = int(page.text_content("#batch-done"))
    assert stopped_at < 30
    time.sleep(3)  # nothing keeps running after the cancel
    page.reload()
    assert int(page.text_content("#batch-done")) == stopped_at
    assert page.text_content("#summary-faces").strip() == str(stopped_at)
    assert (
        page.locator("tr.item-done .face-thumb.thumb-without_mask, tr.item-done .face-thumb.thumb-with_mask").count()
        == stopped_at
    )
    assert page.locator("tr.item-pending").count() == 30 - stopped_at
    assert page.get_attribute("#batch-log", "href").endswith(f"?batch={batch.pk}")
    assert page.locator("#batch-retry").is_visible()
    screenshot(page, "batch-cancelled")
    page.click("#batch-log")
    page.wait_for_selector("#batch-filter")
    assert page.locator("table.log-table tbody tr").count() == stopped_at
    screenshot(page, "batch-faces-in-log")
    assert page.js_errors == []
