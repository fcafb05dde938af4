"""In a real Chromium at a phone's width: the detection log never scrolls the whole page sideways
(the table scrolls inside its box, less useful columns hide), with the filter bar on top."""

from __future__ import annotations

import pytest

from detection.models import DetectedFace, DetectionLog
from tests.browser.test_batch_page import screenshot

pytestmark = pytest.mark.browser


@pytest.fixture
def crowd_logs(transactional_db):
    """Made before Playwright starts (its loop forbids sync ORM calls)."""
    for i in range(6):
        log = DetectionLog.objects.create(
            source="upload",
            face_count=2,
            masked_count=1,
            unmasked_count=1,
            original_name=f"a-rather-long-file-name-{i}.jpg",
        )
        for mask in ("with_mask", "without_mask"):
            DetectedFace.objects.create(
                log=log, x1=1, y1=2, x2=30, y2=40, score=0.9, mask_label=mask, mask_probability=0.5
            )


def test_the_log_fits_a_phone(crowd_logs, logged_in_page):
    page = logged_in_page
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{page.base_url}/detections/?mask=without_mask")
    screenshot(page, "log-phone")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    assert page.locator("table.log-table tbody tr").count() == 6
    assert page.locator(".face-thumb.thumb-without_mask").count() == 6  # only the matching face per photo
    assert page.js_errors == []
