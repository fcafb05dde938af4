"""CSV exports never hand a spreadsheet a formula (CSV injection, OWASP): one helper escapes every cell."""

from __future__ import annotations

import csv
import io

import pytest

from detection.models import DetectedFace, DetectionLog, Person
from maskportal.spreadsheet import FORMULA_PREFIXES, csv_lines, safe_cell

HOSTILE = ['=HYPERLINK("http://evil.example","x")', "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(1,1)", "\t=1+1", "\r=1+1"]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_cell_starting_like_a_formula_is_shown_as_text(value):
    assert value[0] in FORMULA_PREFIXES
    assert safe_cell(value) == "'" + value
    [line] = list(csv_lines([[value]]))
    assert next(csv.reader(io.StringIO(line)))[0].startswith("'")


def test_ordinary_cells_and_numbers_are_unchanged():
    assert [safe_cell(v) for v in ("Grace Hopper", "a=b", 42, -1.5, None)] == ["Grace Hopper", "a=b", 42, -1.5, None]


def test_the_detection_log_export_escapes_file_and_person_names(staff_client):
    person = Person.objects.create(display_name="=cmd|' /C calc'!A0")
    log = DetectionLog.objects.create(source=DetectionLog.Source.UPLOAD, original_name="@SUM(A1:A9).jpg", face_count=1)
    DetectedFace.objects.create(
        log=log, x1=1, y1=1, x2=9, y2=9, score=0.9, mask_label="with_mask", mask_probability=0.9, person=person
    )
    response = staff_client.get("/detections/export.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    header, row = rows[0], rows[1]
    assert row[header.index("file")] == "'@SUM(A1:A9).jpg"
    assert row[header.index("person")] == "'=cmd|' /C calc'!A0"
