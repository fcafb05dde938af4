"""The result page of a crowd photo in Chromium: the stored (downscaled) photo fills the column with
numbered boxes drawn over it, numbers only and a legend when faces are small, box and row light up
together, a click enlarges the photo; the whole photo is reviewed in one form without leaving the
page, and the summary, the drawing and an open dashboard follow the correction."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.base import ContentFile
from PIL import Image

from detection.models import DetectedFace, DetectionLog, MaskLabel, Person
from detection.services.analysis import summarise
from tests.photos import encode, face_photo

pytestmark = pytest.mark.browser

WIDTH, HEIGHT, ROWS, COLUMNS = 1600, 900, 2, 8


def crowd() -> tuple[np.ndarray, list[tuple[float, float, float, float]]]:
    """A 1600x900 photo of 16 small real faces in two rows, and their boxes."""
    canvas = Image.new("RGB", (WIDTH, HEIGHT), (96, 104, 112))
    portrait = Image.fromarray(face_photo()).crop((150, 30, 290, 200)).resize((70, 85))
    boxes = []
    for row in range(ROWS):
        for col in range(COLUMNS):
            x, y = 60 + col * 190, 200 + row * 330
            canvas.paste(portrait, (x, y))
            boxes.append((x + 5.0, y + 5.0, x + 65.0, y + 80.0))
    return np.asarray(canvas), boxes


@pytest.fixture
def crowd_log(transactional_db, staff_user) -> DetectionLog:
    """A logged crowd photo (stored at half size, as the downscaled copy is), made before Playwright starts."""
    image, boxes = crowd()
    Person.objects.create(display_name="Ada Lovelace")
    masked = [i % 3 == 0 for i in range(len(boxes))]
    log = DetectionLog(
        source="upload",
        user=staff_user,
        original_name="crowd.jpg",
        image_width=WIDTH,
        image_height=HEIGHT,
        face_count=len(boxes),
        masked_count=sum(masked),
        unmasked_count=len(boxes) - sum(masked),
        unknown_count=len(boxes),
    )
    log.summary = summarise(log.face_count, log.masked_count, log.unmasked_count, log.unknown_count)
    small = Image.fromarray(image).resize((WIDTH // 2, HEIGHT // 2))
    log.image.save("upload.jpg", ContentFile(encode(np.asarray(small))), save=False)
    log.save()
    DetectedFace.objects.bulk_create(
        DetectedFace(
            log=log,
            x1=b[0],
            y1=b[1],
            x2=b[2],
            y2=b[3],
            score=0.9,
            mask_probability=0.95 if m else 0.05,
            mask_label=MaskLabel.WITH_MASK if m else MaskLabel.WITHOUT_MASK,
        )
        for b, m in zip(boxes, masked, strict=True)
    )
    return log


def test_crowd_photo_drawn_linked_zoomed_and_reviewed_in_place(crowd_log, logged_in_page, artifacts):
    page = logged_in_page
    page.set_viewport_size({"width": 1366, "height": 900})
    dashboard = page.context.new_page()
    dashboard.goto(f"{page.base_url}/")
    dashboard.wait_for_function("() => window.Chart && document.getElementById('stat-masked')")
    masked_before = int(dashboard.text_content("#stat-masked"))
    page.bring_to_front()  # a background tab runs no transitions (the zoom's fade-in)

    page.goto(f"{page.base_url}/detections/{crowd_log.pk}/")
    page.wait_for_function("() => document.querySelectorAll('#photo .face-box').length === 16")
    column = page.eval_on_selector("#photo", "el => el.parentElement.clientWidth")
    shown = page.eval_on_selector("#photo-image", "el => el.getBoundingClientRect().width")
    assert shown > 600 and abs(shown - column) < 40, "the photo fills its column"
    tags = page.locator("#photo .face-tag").all_inner_texts()
    assert tags == [str(n) for n in range(1, 17)], "small faces carry their number only"
    assert page.is_visible("#face-legend") and page.locator("#face-legend li").count() == 16

    # box 3 and row 3 light up together, whichever is hovered
    third = page.locator("#faces tbody tr").nth(2)
    face_id = third.get_attribute("data-face")
    page.hover(f'#photo .face-box[data-face="{face_id}"]')
    assert "is-active" in third.get_attribute("class")
    page.locator("#faces tbody tr").nth(5).hover()
    sixth = page.locator("#faces tbody tr").nth(5).get_attribute("data-face")
    assert "is-active" in page.get_attribute(f'#photo .face-box[data-face="{sixth}"]', "class")
    page.screenshot(path=artifacts / "result-crowd.png", full_page=True)

    # a click on the photo enlarges it, with the boxes and (now big enough) labels
    page.click("#photo-image", position={"x": 5, "y": 5})
    page.wait_for_selector("#photo-zoom.show")
    page.wait_for_function("() => document.querySelectorAll('#photo-zoom .face-box').length === 16")
    page.wait_for_timeout(400)
    zoomed = page.eval_on_selector("#photo-zoom img", "el => el.getBoundingClientRect().width")
    assert zoomed > shown * 1.3
    assert page.locator("#photo-zoom .face-legend li").count() == 16  # the numbers are named beside it too
    page.screenshot(path=artifacts / "result-crowd-zoomed.png")
    page.click("#photo-zoom .btn-close")
    page.wait_for_selector("#photo-zoom", state="hidden")

    # one form for the whole photo: face 2 had no mask and is corrected, face 4 is Ada; the rest confirmed
    page.evaluate("window.stillTheSamePage = true")
    rows = page.locator("#faces tbody tr")
    second, fourth = rows.nth(1).get_attribute("data-face"), rows.nth(3).get_attribute("data-face")
    assert page.input_value(f'select[name="mask-{second}"]') == "without_mask"
    page.select_option(f'select[name="mask-{second}"]', "with_mask")
    page.select_option(f'select[name="person-{fourth}"]', label="Ada Lovelace")
    page.click("#review-save")
    page.wait_for_function("() => document.getElementById('review-status').textContent.startsWith('Review saved')")
    assert page.evaluate("window.stillTheSamePage") is True, "no page load"
    assert page.text_content("#review-status") == "Review saved: 14 confirmed, 2 corrected."
    assert page.text_content("#summary") == "16 faces: 7 with mask, 9 without, 15 unknown"
    assert "face-box-with_mask" in page.get_attribute(f'#photo .face-box[data-face="{second}"]', "class")
    assert "Ada Lovelace" in page.text_content(f'#face-legend li[data-face="{fourth}"]')
    assert page.text_content(f"#face-{second} .review-badge") == "Corrected"
    dashboard.wait_for_function(
        f"() => document.getElementById('stat-masked').textContent.trim() === '{masked_before + 1}'"
    )

    page.click("#review-all-correct")
    page.wait_for_function("() => document.getElementById('review-status').textContent.includes('14 confirmed')")
    page.screenshot(path=artifacts / "result-crowd-reviewed.png", full_page=True)
    assert page.js_errors == []


@pytest.fixture
def portrait_log(transactional_db, staff_user) -> DetectionLog:
    """A logged photo of one large face, recognised as a registered person."""
    ada = Person.objects.create(display_name="Ada Lovelace")
    log = DetectionLog(
        source="upload",
        user=staff_user,
        original_name="portrait.jpg",
        image_width=512,
        image_height=512,
        face_count=1,
        unmasked_count=1,
    )
    log.summary = summarise(1, 0, 1, 0)
    log.image.save("upload.jpg", ContentFile(encode(face_photo())), save=False)
    log.save()
    DetectedFace.objects.create(
        log=log,
        x1=160,
        y1=50,
        x2=290,
        y2=210,
        score=0.99,
        mask_label=MaskLabel.WITHOUT_MASK,
        mask_probability=0.02,
        person=ada,
        distance=0.31,
    )
    return log


def test_large_faces_carry_their_label_on_the_photo(portrait_log, logged_in_page, artifacts):
    page = logged_in_page
    page.goto(f"{page.base_url}/detections/{portrait_log.pk}/")
    page.wait_for_function("() => document.querySelectorAll('#photo .face-box').length === 1")
    assert page.text_content("#photo .face-tag") == "1 Ada Lovelace · no mask"
    assert page.is_hidden("#face-legend")
    size = page.eval_on_selector("#photo .face-tag", "el => parseFloat(getComputedStyle(el).fontSize)")
    assert size >= 12
    page.screenshot(path=artifacts / "result-portrait.png")
    assert page.js_errors == []
