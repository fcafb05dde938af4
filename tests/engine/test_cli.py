"""`analyze`: the --json schema exactly, errors per file, folders, gallery, annotations, the Django command."""

import io
import json
from pathlib import Path

import jsonschema
import pytest
from PIL import Image

from detection.engine.cli import CliError, run_analyze
from detection.engine.pipeline import Pipeline, PipelineConfig

NUMBER = {"type": "number"}
FACE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["box", "score", "mask", "mask_score", "identity", "distance", "fallback"],
    "properties": {
        "box": {"type": "array", "items": {"type": "integer"}, "minItems": 4, "maxItems": 4},
        "score": {"type": "number", "minimum": 0, "maximum": 1},
        "mask": {"enum": ["with_mask", "without_mask"]},
        "mask_score": {"type": "number", "minimum": 0, "maximum": 1},
        "identity": {"type": ["string", "null"]},
        "distance": {"type": ["number", "null"]},
        "fallback": {"enum": [None, "padded", "whole_image"]},
    },
}
RESULT = {
    "type": "object",
    "additionalProperties": False,
    "required": ["image", "width", "height", "faces", "timings_ms"],
    "properties": {
        "image": {"type": "string"},
        "width": {"type": "integer", "minimum": 1},
        "height": {"type": "integer", "minimum": 1},
        "faces": {"type": "array", "items": FACE},
        "timings_ms": {
            "type": "object",
            "additionalProperties": False,
            "required": ["decode", "detect", "classify", "recognize", "total"],
            "properties": {k: NUMBER for k in ("decode", "detect", "classify", "recognize", "total")},
        },
    },
}
ERROR = {
    "type": "object",
    "additionalProperties": False,
    "required": ["image", "error"],
    "properties": {"image": {"type": "string"}, "error": {"type": "string", "minLength": 5}},
}


@pytest.fixture(scope="module")
def photos(tmp_path_factory, astronaut, grace_hopper):
    root = tmp_path_factory.mktemp("photos")
    (root / "sub").mkdir()
    Image.fromarray(astronaut).save(root / "b_astronaut.jpg")
    Image.fromarray(grace_hopper).save(root / "sub" / "a_hopper.png")
    (root / "c_broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "notes.txt").write_text("not an image, and not picked up from a folder")
    gallery = tmp_path_factory.mktemp("gallery")
    (gallery / "eileen").mkdir()
    Image.fromarray(astronaut[:, ::-1]).save(gallery / "eileen" / "1.jpg")
    return root, gallery


@pytest.fixture(scope="module")
def tiny_pipeline(tiny_model_factory):
    return Pipeline(PipelineConfig.preset("fast", classifier_path=tiny_model_factory(size=32)))


def run(paths, pipeline, **kwargs):
    out, err = io.StringIO(), io.StringIO()
    status = run_analyze([str(p) for p in paths], stdout=out, stderr=err, pipeline=pipeline, **kwargs)
    return status, out.getvalue(), err.getvalue()


def test_json_lines_follow_the_schema(photos, tiny_pipeline, tmp_path):
    root, gallery = photos
    missing = root / "missing.jpg"
    status, out, _ = run([root, missing], tiny_pipeline, json_output=True, gallery_dir=str(gallery))
    lines = [json.loads(line) for line in out.splitlines()]
    assert status == 1
    assert [Path(o["image"]).name for o in lines] == ["b_astronaut.jpg", "c_broken.jpg", "a_hopper.png", "missing.jpg"]
    for obj in lines:
        jsonschema.validate(obj, ERROR if "error" in obj else RESULT)
    astronaut, broken, hopper, gone = lines
    assert astronaut["faces"][0]["identity"] == "eileen"
    assert hopper["faces"] and all(f["identity"] is None for f in hopper["faces"])
    assert "not a recognised image" in broken["error"] or "damaged" in broken["error"]
    assert "No such file" in gone["error"]


def test_exit_zero_when_all_succeed_and_no_recognize(photos, tiny_pipeline):
    root, gallery = photos
    status, out, _ = run(
        [root / "b_astronaut.jpg"], tiny_pipeline, json_output=True, gallery_dir=str(gallery), recognize=False
    )
    assert status == 0
    face = json.loads(out)["faces"][0]
    assert face["identity"] is None and face["distance"] is None


def test_table_and_annotations(photos, tiny_pipeline, tmp_path):
    root, _ = photos
    status, out, _ = run([root / "b_astronaut.jpg", root / "sub"], tiny_pipeline, annotate_dir=str(tmp_path / "ann"))
    assert status == 0
    assert "faces: 1" in out and "b_astronaut.jpg" in out and not out.lstrip().startswith("{")
    written = sorted(p.name for p in (tmp_path / "ann").iterdir())
    assert written == ["a_hopper.jpg", "b_astronaut.jpg"]
    with Image.open(tmp_path / "ann" / "b_astronaut.jpg") as img:
        assert img.size == (512, 512)


def test_command_line_errors(photos, tiny_pipeline, tmp_path):
    root, _ = photos
    with pytest.raises(CliError, match="gallery folder not found"):
        run([root], tiny_pipeline, gallery_dir=str(tmp_path / "nope"))
    (tmp_path / "empty" / "someone").mkdir(parents=True)
    with pytest.raises(CliError, match="no usable face photos"):
        run([root], tiny_pipeline, gallery_dir=str(tmp_path / "empty"))
    with pytest.raises(CliError, match="unknown mode"):
        run([root], tiny_pipeline, mode="turbo")


def test_manage_py_analyze_prints_only_json(committed_model, photos):
    """Through the real command line: exit status 1 for the broken file, nothing but JSON on stdout."""
    import subprocess
    import sys

    root, _ = photos
    repo = Path(__file__).resolve().parents[2]
    proc = subprocess.run(
        [sys.executable, str(repo / "manage.py"), "analyze", "--json", "--mode", "fast", str(root)],
        capture_output=True,
        text=True,
        cwd=repo,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 1, proc.stderr[-2000:]
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 3
    for obj in lines:
        jsonschema.validate(obj, ERROR if "error" in obj else RESULT)
    assert lines[0]["faces"][0]["mask"] == "without_mask"


def test_gallery_photos_pass_the_registrys_quality_gate(photos, tiny_pipeline, astronaut, tmp_path):
    """The CLI enrols through the registry's checks: a face too small for the registry is refused
    here too, with a warning naming the reason."""
    gallery = tmp_path / "gallery"
    (gallery / "eileen").mkdir(parents=True)
    Image.fromarray(astronaut[:, ::-1]).save(gallery / "eileen" / "1.jpg")
    small = Image.fromarray(astronaut).resize((64, 64))  # the face is far under 48 px across
    canvas = Image.new("RGB", (400, 400), (120, 120, 120))
    canvas.paste(small, (160, 160))
    (gallery / "tiny").mkdir()
    canvas.save(gallery / "tiny" / "1.jpg")
    status, _, err = run([photos[0] / "b_astronaut.jpg"], tiny_pipeline, json_output=True, gallery_dir=str(gallery))
    assert status == 0
    assert "tiny/1.jpg skipped" in err and "px across" in err
