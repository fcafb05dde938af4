"""The training pool: corrections enter it, imports are deduplicated, the split is fixed by hash."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest
from django.core.files.base import ContentFile
from django.core.management import call_command

from detection.models import DetectedFace, DetectionLog
from tests.photos import encode, face_photo, in_frame
from training.models import TrainingImage
from training.services import pool

BOX = (170.0, 30.0, 260.0, 140.0)  # the astronaut's face in face_photo()


def make_face(*, with_log_image=True, with_crop=False, label="with_mask", scale=1.0) -> DetectedFace:
    image = face_photo()
    log = DetectionLog.objects.create(source="upload", image_width=512, image_height=512)
    if with_log_image:
        stored = image if scale == 1.0 else image[:: int(1 / scale), :: int(1 / scale)]
        log.image.save("photo.jpg", ContentFile(encode(stored)), save=True)
    face = DetectedFace(
        log=log,
        x1=BOX[0],
        y1=BOX[1],
        x2=BOX[2],
        y2=BOX[3],
        score=0.99,
        mask_label="without_mask",
        mask_probability=0.1,
        review_state=DetectedFace.Review.CORRECTED,
        corrected_mask_label=label,
    )
    if with_crop:
        face.crop.save("crop.png", ContentFile(encode(image[30:140, 170:260], "PNG")), save=False)
    face.save()
    return face


@pytest.mark.django_db
def test_correction_from_log_image_enters_pool_with_corrected_label():
    face = make_face()
    row = pool.add_correction(face)
    assert row is not None
    assert row.label == "with_mask"
    assert row.source == TrainingImage.Source.CORRECTION
    assert row.detected_face_id == face.id
    assert row.split in TrainingImage.Split.values
    with row.image.open("rb") as fh:
        data = fh.read()
    assert pool.content_hash(data) == row.content_hash
    assert row.split == pool.split_for(row.content_hash)


@pytest.mark.django_db
def test_correction_uses_stored_crop_first_and_deduplicates():
    face = make_face(with_crop=True, with_log_image=False)
    row = pool.add_correction(face)
    with face.crop.open("rb") as fh:
        assert pool.content_hash(fh.read()) == row.content_hash
    # correcting again keeps one pool image and follows the latest label
    face.corrected_mask_label = "without_mask"
    face.save()
    again = pool.add_correction(face)
    assert again.pk == row.pk and again.label == "without_mask"
    assert TrainingImage.objects.count() == 1


@pytest.mark.django_db
def test_correction_crop_follows_a_downscaled_stored_image():
    full = pool.add_correction(make_face())
    half = pool.add_correction(make_face(scale=0.5))
    with full.image.open("rb") as a, half.image.open("rb") as b:
        from detection.engine.imageio import decode_image

        x, y = decode_image(a.read()).astype(float), decode_image(b.read()).astype(float)
    assert x.shape == y.shape
    assert np.abs(x - y).mean() < 25  # the same face region, not a shifted one


@pytest.mark.django_db
def test_correction_without_any_stored_image_is_skipped():
    assert pool.add_correction(make_face(with_log_image=False)) is None
    assert TrainingImage.objects.count() == 0


@pytest.mark.django_db
def test_add_image_rejects_bad_input():
    with pytest.raises(pool.PoolError, match="label"):
        pool.add_image(encode(face_photo()), "maybe", "upload")
    with pytest.raises(pool.PoolError):
        pool.add_image(b"not an image", "with_mask", "upload")
    assert TrainingImage.objects.count() == 0


def _dataset(tmp_path, n=3):
    for label in ("with_mask", "without_mask"):
        (tmp_path / label).mkdir(parents=True)
        for i in range(n):
            image = in_frame(face_photo(), 200 + 10 * i + (label == "with_mask"), 200)
            (tmp_path / label / f"{i}.jpg").write_bytes(encode(image))
    return tmp_path


@pytest.mark.django_db
def test_folder_import_deduplicates(tmp_path):
    root = _dataset(tmp_path / "data")
    (root / "with_mask" / "copy.jpg").write_bytes((root / "with_mask" / "0.jpg").read_bytes())
    (root / "without_mask" / "broken.jpg").write_bytes(b"\xff\xd8 broken")
    report = pool.import_items(pool.iter_folder(root))
    assert (report.added, report.duplicates, len(report.errors)) == (6, 1, 1)
    assert "broken.jpg" in report.errors[0]
    again = pool.import_items(pool.iter_folder(root))
    assert (again.added, again.duplicates) == (0, 7)
    assert TrainingImage.objects.count() == 6
    assert set(TrainingImage.objects.values_list("label", flat=True)) == {"with_mask", "without_mask"}


@pytest.mark.django_db
def test_manifest_fixes_the_split(tmp_path):
    root = _dataset(tmp_path / "data", n=1)
    (root / "manifest.csv").write_text(
        "path,label,split\nwith_mask/0.jpg,with_mask,val\nwithout_mask/0.jpg,without_mask,train\n"
    )
    pool.import_items(pool.iter_folder(root))
    assert dict(TrainingImage.objects.values_list("label", "split")) == {"with_mask": "eval", "without_mask": "train"}


@pytest.mark.django_db
def test_zip_import_and_refusals(tmp_path, settings):
    root = _dataset(tmp_path / "data", n=2)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in root.rglob("*.jpg"):
            archive.write(path, f"set/{path.relative_to(root)}")
        archive.writestr("set/readme.txt", "ignored")
    report = pool.import_items(pool.iter_zip(zipfile.ZipFile(buffer)))
    assert report.added == 4
    settings.MAX_ZIP_MEMBERS = 3
    with pytest.raises(pool.PoolError, match="limit 3"):
        list(pool.iter_zip(zipfile.ZipFile(buffer)))
    empty = io.BytesIO()
    zipfile.ZipFile(empty, "w").writestr("a.txt", "x")
    with pytest.raises(pool.PoolError, match="no images"):
        list(pool.iter_zip(zipfile.ZipFile(empty)))


@pytest.mark.django_db
def test_zip_members_follow_the_upload_rules(tmp_path):
    """Archiver metadata is skipped at any depth and a `..` member is reported as an unsafe path,
    as in batch uploads and registry imports; nothing outside the archive's folders is read."""
    photo = (_dataset(tmp_path / "data", n=1) / "with_mask" / "0.jpg").read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("with_mask/a.jpg", photo)
        archive.writestr("__MACOSX/with_mask/._a.jpg", b"resource fork")
        archive.writestr(".trash/with_mask/old.jpg", photo)
        archive.writestr("../with_mask/escape.jpg", photo)
    items = list(pool.iter_zip(zipfile.ZipFile(buffer)))
    assert [item.name for item in items] == ["with_mask/a.jpg", "../with_mask/escape.jpg"]
    report = pool.import_items(items)
    assert report.added == 1
    assert report.errors == ["../with_mask/escape.jpg: unsafe path: '..' is not allowed in a ZIP archive"]


@pytest.mark.django_db
def test_folder_import_skips_archiver_metadata(tmp_path):
    root = _dataset(tmp_path / "data", n=1)
    (root / ".trash" / "with_mask").mkdir(parents=True)
    (root / ".trash" / "with_mask" / "old.jpg").write_bytes(b"not read")
    (root / "with_mask" / "._0.jpg").write_bytes(b"resource fork")
    report = pool.import_items(pool.iter_folder(root))
    assert (report.added, report.errors) == (2, [])


@pytest.mark.django_db
def test_import_command(tmp_path):
    root = _dataset(tmp_path / "data", n=1)
    out = io.StringIO()
    call_command("import_training_data", str(root), stdout=out)
    assert "2 added" in out.getvalue()
    assert TrainingImage.objects.filter(source="dataset").count() == 2
    with pytest.raises(Exception, match="not a folder"):
        call_command("import_training_data", str(tmp_path / "missing"))


def test_split_is_fixed_by_hash_and_near_the_fraction():
    digests = [pool.content_hash(str(i).encode()) for i in range(4000)]
    share = sum(pool.split_for(d) == "eval" for d in digests) / len(digests)
    assert abs(share - pool.EVAL_FRACTION) < 0.03
    assert all(pool.split_for(d) == pool.split_for(d) for d in digests[:10])
