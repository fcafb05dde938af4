"""Reviewing a whole photo at once: one form (all correct, or per-face changes with the rest
confirmed), all saved or none, and the photo's counts, summary and the dashboard figures follow."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from detection.models import DetectedFace, DetectionLog, MaskLabel, Person
from detection.services import stats
from detection.services.analysis import summarise
from detection.services.review import reading_order

pytestmark = pytest.mark.django_db


def _photo(masks: list[str], summary: str | None = None) -> DetectionLog:
    masked = masks.count(MaskLabel.WITH_MASK)
    log = DetectionLog.objects.create(
        source="upload",
        image_width=800,
        image_height=400,
        face_count=len(masks),
        masked_count=masked,
        unmasked_count=len(masks) - masked,
        unknown_count=len(masks),
    )
    log.summary = summary or summarise(len(masks), masked, len(masks) - masked, len(masks))
    log.save()
    for i, mask in enumerate(masks):
        DetectedFace.objects.create(
            log=log,
            x1=10 + 100 * i,
            y1=50,
            x2=60 + 100 * i,
            y2=110,
            score=0.9,
            mask_label=mask,
            mask_probability=0.9 if mask == "with_mask" else 0.1,
        )
    return log


def _post(client, log, data, as_json=True):
    headers = {"HTTP_ACCEPT": "application/json"} if as_json else {}
    return client.post(reverse("detection:log_review", args=[log.pk]), data, **headers)


def test_all_correct_confirms_every_face_as_it_stands(staff_client):
    log = _photo(["with_mask", "without_mask", "without_mask"])
    response = _post(staff_client, log, {"all_correct": "on", f"mask-{log.faces.first().pk}": "without_mask"})
    assert response.status_code == 200
    assert set(log.faces.values_list("review_state", flat=True)) == {"confirmed"}
    assert response.json()["message"] == "Review saved: 3 confirmed, 0 corrected."
    log.refresh_from_db()
    assert (log.masked_count, log.unmasked_count) == (1, 2)


def test_corrections_update_counts_summary_stats_and_the_answer(staff_client):
    ann = Person.objects.create(display_name="Ann")
    log = _photo(["with_mask", "without_mask", "without_mask"])
    first, second, third = log.faces.order_by("pk")
    before = stats.dashboard()["today"]
    data = {f"mask-{f.pk}": f.mask_label for f in (first, second, third)}
    data |= {f"person-{f.pk}": "" for f in (first, second, third)}
    data[f"mask-{second.pk}"] = "with_mask"
    data[f"person-{third.pk}"] = str(ann.pk)
    answer = _post(staff_client, log, data).json()

    log.refresh_from_db()
    assert (log.masked_count, log.unmasked_count, log.unknown_count) == (2, 1, 2)
    assert log.summary == "3 faces: 2 with mask, 1 without, 2 unknown" == answer["summary"]
    assert answer["counts"] == {"faces": 3, "masked": 2, "unmasked": 1, "unknown": 2}
    by_id = {f["id"]: f for f in answer["faces"]}
    assert by_id[second.pk]["mask"] == "with_mask" and by_id[second.pk]["review"] == "corrected"
    assert by_id[third.pk]["person"] == "Ann" and by_id[first.pk]["review"] == "confirmed"
    after = stats.dashboard()["today"]
    assert after["masked"] == before["masked"] + 1 and after["unknown"] == before["unknown"] - 1


def test_a_bad_value_saves_nothing(staff_client):
    log = _photo(["with_mask", "without_mask"])
    first, second = log.faces.order_by("pk")
    response = _post(staff_client, log, {f"mask-{first.pk}": "without_mask", f"mask-{second.pk}": "sideways"})
    assert response.status_code == 400 and "errors" in response.json()
    response = _post(staff_client, log, {f"person-{first.pk}": "99999999999999999999"})
    assert response.status_code == 400
    assert set(log.faces.values_list("review_state", flat=True)) == {"pending"}


def test_without_script_the_form_redirects_back_with_a_message(staff_client):
    log = _photo(["without_mask"])
    response = _post(staff_client, log, {"all_correct": "on"}, as_json=False)
    assert response.status_code == 302 and response["Location"] == reverse("detection:log_detail", args=[log.pk])
    page = staff_client.get(response["Location"]).content.decode()
    assert "Review saved: 1 confirmed, 0 corrected." in page


def test_a_camera_sentence_stays_while_counts_follow(staff_client):
    log = _photo(["without_mask"], summary="Unknown person without a mask at Entrance A")
    face = log.faces.get()
    _post(staff_client, log, {f"mask-{face.pk}": "with_mask", f"person-{face.pk}": ""})
    log.refresh_from_db()
    assert log.summary == "Unknown person without a mask at Entrance A" and log.masked_count == 1


def test_one_face_review_also_updates_the_counts(staff_client):
    log = _photo(["without_mask", "without_mask"])
    face = log.faces.order_by("pk").first()
    staff_client.post(reverse("detection:face_review", args=[face.pk]), {"mask_label": "with_mask", "person": "keep"})
    log.refresh_from_db()
    assert log.masked_count == 1 and log.summary.startswith("2 faces: 1 with mask")


def test_the_result_page_numbers_faces_in_reading_order_for_the_drawing(staff_client):
    log = _photo(["with_mask", "without_mask"])
    DetectedFace.objects.create(
        log=log, x1=5, y1=5, x2=55, y2=40, score=0.9, mask_label="with_mask", mask_probability=0.5
    )  # top row, unsure
    page = staff_client.get(reverse("detection:log_detail", args=[log.pk])).content.decode()
    data = json.loads(page.split('<script id="face-data" type="application/json">')[1].split("</script>")[0])
    assert (data["width"], data["height"]) == (800, 400)
    assert [f["n"] for f in data["faces"]] == [1, 2, 3]
    assert [f["id"] for f in data["faces"]] == [f.pk for f in reading_order(log.faces.all())]
    assert data["faces"][0]["unsure"] is True and data["faces"][0]["box"] == [5.0, 5.0, 55.0, 40.0]
    assert 'src="/static/js/result.js"' in page and "<script>" not in page.split("</nav>")[1]  # no inline script


def test_staff_without_review_permission_cannot_post(client):
    from tests.factories import UserFactory

    viewer = UserFactory()
    viewer.groups.clear()
    client.force_login(viewer)
    log = _photo(["with_mask"])
    assert _post(client, log, {"all_correct": "on"}).status_code == 403
