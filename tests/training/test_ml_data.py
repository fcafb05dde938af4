"""Bad data folders fail early with a message that says what is wrong and where."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from training.ml.data import DataError, build_crops, list_samples


def _images(folder, n, seed=0):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8)).save(folder / f"{i}.png")


def test_missing_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        list_samples(tmp_path / "nope")


def test_folder_without_class_subfolders(tmp_path):
    with pytest.raises(DataError, match="with_mask/ and without_mask/"):
        list_samples(tmp_path)


def test_empty_class_folders(tmp_path):
    (tmp_path / "with_mask").mkdir()
    (tmp_path / "without_mask").mkdir()
    with pytest.raises(DataError, match="no images found"):
        list_samples(tmp_path)


def test_one_class_only(tmp_path):
    _images(tmp_path / "with_mask", 30)
    (tmp_path / "without_mask").mkdir()
    with pytest.raises(DataError, match="no without_mask images"):
        list_samples(tmp_path)


def test_unreadable_images_are_named(tmp_path):
    _images(tmp_path / "with_mask", 30)
    _images(tmp_path / "without_mask", 30, seed=1)
    (tmp_path / "without_mask" / "broken.jpg").write_bytes(b"not an image at all")
    samples = list_samples(tmp_path)
    with pytest.raises(DataError, match=r"1 unreadable image\(s\):\n  .*broken\.jpg"):
        build_crops(samples, 32, with_context=False)


def test_hash_split_is_stable_and_keeps_both_classes(tmp_path):
    _images(tmp_path / "with_mask", 40)
    _images(tmp_path / "without_mask", 40, seed=1)
    first = list_samples(tmp_path)
    assert first == list_samples(tmp_path)
    assert {s.split for s in first} == {"train", "val"}


def test_pairs_and_labels(tmp_path):
    _images(tmp_path / "a", 40)
    pairs = [(p, "with_mask" if i % 2 else "without_mask") for i, p in enumerate(sorted((tmp_path / "a").iterdir()))]
    samples = list_samples(pairs, val_fraction=0.5)
    assert sorted({s.label for s in samples}) == [0, 1]
    with pytest.raises(DataError, match="unknown label"):
        list_samples([(pairs[0][0], "maybe")])


def test_manifest_split_is_used(tmp_path):
    _images(tmp_path / "with_mask", 2)
    _images(tmp_path / "without_mask", 2, seed=1)
    rows = ["path,label,split"] + [
        f"{cls}/{i}.png,{cls},{'val' if i else 'train'}" for cls in ("with_mask", "without_mask") for i in range(2)
    ]
    (tmp_path / "manifest.csv").write_text("\n".join(rows) + "\n")
    samples = list_samples(tmp_path)
    assert [s.split for s in samples] == ["train", "val", "train", "val"]
    crops = build_crops(samples, 32, with_context=True)
    assert crops.crops.shape == (4, 32, 32, 3) and crops.context.shape[1] > 32
    assert not crops.face_found.any()  # noise has no face: the whole image is used
