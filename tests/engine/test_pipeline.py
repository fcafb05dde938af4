"""Pipeline: faces with mask state and identity, reload, gallery, threads, the committed model end to end."""

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from detection.engine.enrolment import EnrolmentRejected, enrol_in_gallery, prepare
from detection.engine.masking import draw_mask
from detection.engine.pipeline import Pipeline, PipelineConfig, adjust_box, get_pipeline


@pytest.fixture(scope="module")
def tiny_pipeline(tiny_model_factory):
    return Pipeline(PipelineConfig.preset("fast", classifier_path=tiny_model_factory(size=32)))


def test_analyze_astronaut(tiny_pipeline, astronaut):
    analysis = tiny_pipeline.analyze(astronaut)
    assert (analysis.width, analysis.height) == (512, 512)
    [face] = analysis.faces
    assert face.score > 0.8 and face.keypoints.shape == (5, 2)
    assert face.mask in ("with_mask", "without_mask") and 0 <= face.mask_score <= 1
    assert face.identity is None and face.distance is None
    assert face.box == adjust_box(face.detection.box, tiny_pipeline.config.box_adjust, 512, 512)
    assert set(analysis.timings_ms) == {"decode", "detect", "classify", "recognize", "total"}


def test_box_adjust_moves_and_clips():
    assert adjust_box((10, 10, 30, 50), (0.0, 0.1, 1.0, 0.5), 100, 100) == pytest.approx((10, 24, 30, 44))
    assert adjust_box((0, 0, 10, 10), (-0.5, 0.0, 1.0, 1.0), 100, 100)[0] == 0.0


def test_recognition_with_gallery(tiny_pipeline, astronaut, grace_hopper):
    gallery = tiny_pipeline.new_gallery()
    enrol_in_gallery(gallery, "astronaut", prepare(astronaut, tiny_pipeline), photo_key=0)
    assert len(gallery) == 2  # the photo and the pooled embedding of its drawn-mask variants
    tiny_pipeline.set_gallery(gallery)
    try:
        [face] = tiny_pipeline.analyze(np.ascontiguousarray(astronaut[:, ::-1])).faces
        assert face.identity == "astronaut" and face.distance is not None
        [masked] = tiny_pipeline.analyze(draw_mask(astronaut, face.keypoints)).faces
        assert masked.identity == "astronaut"
        assert tiny_pipeline.analyze(astronaut, recognize=False).faces[0].identity is None
        others = tiny_pipeline.analyze(grace_hopper).faces
        assert others and all(f.identity is None for f in others)
    finally:
        tiny_pipeline.set_gallery(None)


def test_gallery_from_another_recognizer_is_refused(tiny_pipeline):
    from detection.engine.gallery import Gallery

    with pytest.raises(ValueError, match="dlib"):
        tiny_pipeline.set_gallery(Gallery(metric="euclidean", threshold=0.6, recognizer="dlib"))


def test_enrolment_needs_a_face(tiny_pipeline):
    with pytest.raises(EnrolmentRejected, match="No face"):
        prepare(np.full((100, 100, 3), 128, np.uint8), tiny_pipeline)
    with pytest.raises(ValueError, match="no face"):
        tiny_pipeline.embed(np.full((100, 100, 3), 128, np.uint8))


def test_reload_swaps_the_classifier_and_keeps_it_on_failure(tiny_model_factory, astronaut, tmp_path):
    pipeline = Pipeline(PipelineConfig.preset("fast", classifier_path=tiny_model_factory(size=32)))
    before = pipeline.analyze(astronaut).faces[0].mask_score
    other = tiny_model_factory(size=48, outputs=2)
    pipeline.reload(other)
    assert pipeline.classifier.input_size == 48 and str(pipeline.config.classifier_path) == other
    after = pipeline.analyze(astronaut).faces[0].mask_score
    assert after != pytest.approx(before)
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"garbage")
    with pytest.raises(ValueError):
        pipeline.reload(broken)
    assert pipeline.classifier.input_size == 48


def test_concurrent_analyses_agree(tiny_pipeline, astronaut, grace_hopper):
    images = [astronaut, grace_hopper] * 4
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda im: tiny_pipeline.analyze(im).to_dict()["faces"], images))
    assert all(r == results[i % 2] for i, r in enumerate(results))


def test_bad_image_array(tiny_pipeline):
    with pytest.raises(ValueError):
        tiny_pipeline.analyze(np.zeros((10, 10), np.uint8))


def test_presets_and_shared_pipeline():
    assert PipelineConfig.preset("fast").detector.backend == "yunet"
    assert PipelineConfig.preset("accurate").detector.backend == "retinaface"
    with pytest.raises(ValueError, match="unknown mode"):
        PipelineConfig.preset("turbo")
    assert get_pipeline("fast") is get_pipeline("fast")


def test_committed_model_end_to_end(pipeline, astronaut):
    [plain] = pipeline.analyze(astronaut).faces
    assert plain.mask == "without_mask"
    for shape in ("surgical", "cloth", "n95"):
        [masked] = pipeline.analyze(draw_mask(astronaut, plain.keypoints, shape)).faces
        assert masked.mask == "with_mask", shape
