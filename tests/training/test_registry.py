"""Model registry: versions stored under MEDIA_ROOT, the promotion gate, rollback, retire, v1."""

from __future__ import annotations

import pytest
from django.conf import settings

from detection.services.engine import current_versions
from tests.photos import encode, face_photo
from tests.training.support import constant_model, empty_registry, tiny_pool
from training.models import ModelVersion, TrainingSettings
from training.services import pool, registry


@pytest.fixture(autouse=True)
def _no_versions(db):
    empty_registry()


@pytest.fixture(scope="session")
def constant_models(tmp_path_factory):
    """'always with_mask' and 'always without_mask' classifiers (exported once per session)."""
    folder = tmp_path_factory.mktemp("models")
    return {
        "with_mask": constant_model(folder / "always_with" / "mask_classifier.tflite", 0.95),
        "without_mask": constant_model(folder / "always_without" / "mask_classifier.tflite", 0.05),
    }


@pytest.fixture
def unbalanced_pool(db):
    """Evaluation set: 3 with_mask and 2 without_mask, so the two constant models score 60% / 40%."""
    rows = tiny_pool(per_class=4, eval_per_class=3)
    without_eval = [r for r in rows if r.label == "without_mask" and r.split == "eval"]
    without_eval[0].split = "train"
    without_eval[0].save()
    return rows


@pytest.mark.django_db
def test_register_version_copies_files_under_media(constant_models, tmp_path):
    card = tmp_path / "mask_classifier.md"
    card.write_text("# card\n")
    version = registry.register_version(constant_models["with_mask"], card=card, metrics={"training": {"x": 1}})
    assert version.number == 1 and version.status == "candidate"
    path = registry.artifact_path(version)
    assert path.is_file() and path.is_relative_to(settings.MEDIA_ROOT)
    assert path.parent.name.startswith("v1-") and (path.parent / "mask_classifier.md").read_text() == "# card\n"
    assert version.input_size == 32 and len(version.sha256) == 64 and version.model_card == "# card\n"
    assert registry.register_version(constant_models["with_mask"]).number == 2
    assert not list(registry.models_dir().glob(".staging-*"))
    with pytest.raises(registry.RegistryError, match="does not exist"):
        registry.register_version(tmp_path / "missing.tflite")


def test_a_reused_version_number_never_replaces_another_rows_files(constant_models):
    """A rolled-back row (or a lost race for a number) leaves files some other row may point to."""
    first = registry.register_version(constant_models["with_mask"])
    kept = registry.artifact_path(first).read_bytes()
    ModelVersion.objects.filter(pk=first.pk).delete()  # as if its registration had been rolled back
    second = registry.register_version(constant_models["without_mask"])
    assert second.number == first.number and registry.artifact_path(second) != registry.artifact_path(first)
    assert registry.artifact_path(first).read_bytes() == kept


@pytest.mark.django_db
def test_gate_activates_a_better_candidate_and_rejects_a_worse_one(
    constant_models, unbalanced_pool, django_capture_on_commit_callbacks
):  # noqa: E501
    v1 = registry.register_version(constant_models["without_mask"], status="active")
    better = registry.register_version(constant_models["with_mask"], parent=v1)
    before = current_versions()[1]
    with django_capture_on_commit_callbacks(execute=True):
        decided = registry.gate(better)
    assert decided.status == "active" and registry.active_version() == better
    assert decided.gate_report["passed"] is True
    assert decided.gate_report["candidate"]["accuracy"] == 0.6
    assert decided.gate_report["active"] == {**decided.gate_report["active"], "version": "v1", "accuracy": 0.4}
    assert current_versions()[1] > before  # every process reloads
    v1.refresh_from_db()
    assert v1.status == "retired"
    assert registry.active_model() == (registry.artifact_path(better), "v2")

    worse = registry.register_version(constant_models["without_mask"], parent=better)
    decided = registry.gate(worse)
    assert decided.status == "rejected"
    assert registry.active_version() == better
    report = decided.gate_report
    assert report["passed"] is False
    assert (report["candidate"]["accuracy"], report["active"]["accuracy"]) == (0.4, 0.6)
    assert report["eval_images"] == 5 and "<" in report["reason"]
    with pytest.raises(registry.RegistryError, match="not a candidate"):
        registry.gate(decided)


@pytest.mark.django_db
def test_margin_lets_a_slightly_worse_candidate_through(constant_models, unbalanced_pool):
    registry.register_version(constant_models["with_mask"], status="active")
    settings_row = TrainingSettings.current()
    settings_row.gate_margin = 25.0
    settings_row.save()
    worse = registry.register_version(constant_models["without_mask"])
    assert registry.gate(worse).status == "active"


@pytest.mark.django_db
def test_evaluation_is_cached_per_evaluation_set(constant_models, unbalanced_pool):
    version = registry.register_version(constant_models["with_mask"])
    first = registry.evaluate(version)
    assert registry.evaluate(version)["measured_at"] == first["measured_at"]
    pool.add_image(encode(face_photo()), "without_mask", "dataset", split="eval")  # the set grows
    assert registry.evaluate(version)["fingerprint"] != first["fingerprint"]


@pytest.mark.django_db
def test_evaluation_needs_both_classes(constant_models):
    version = registry.register_version(constant_models["with_mask"])
    with pytest.raises(registry.RegistryError, match="both classes"):
        registry.evaluate(version)


@pytest.mark.django_db
def test_rollback_and_retire(constant_models, django_capture_on_commit_callbacks):
    v1 = registry.register_version(constant_models["without_mask"], status="active")
    v2 = registry.register_version(constant_models["with_mask"])
    registry.activate(v2)
    with django_capture_on_commit_callbacks(execute=True):
        registry.activate(v1)  # rollback to the older version
    assert registry.active_version() == v1
    v2.refresh_from_db()
    assert v2.status == "retired"
    with pytest.raises(registry.RegistryError, match="is active"):
        registry.retire(v1)
    v3 = registry.register_version(constant_models["with_mask"])
    assert registry.retire(v3).status == "retired"
    assert ModelVersion.objects.filter(status="active").count() == 1


@pytest.mark.django_db
def test_activation_refuses_a_missing_file(constant_models):
    version = registry.register_version(constant_models["with_mask"])
    registry.artifact_path(version).unlink()
    with pytest.raises(registry.RegistryError, match="missing"):
        registry.activate(version)


@pytest.mark.django_db
def test_committed_model_is_version_one(constant_models, tmp_path):
    source = tmp_path / "mask_classifier.tflite"
    source.write_bytes(constant_models["with_mask"].read_bytes())
    (tmp_path / "mask_classifier.md").write_text("# v1 card")
    ModelVersion.objects.all().delete()
    assert registry.register_committed_model(source=tmp_path / "absent.tflite") is None
    v1 = registry.register_committed_model(source=source)
    assert (v1.number, v1.status, v1.model_card) == (1, "active", "# v1 card")
    assert registry.register_committed_model(source=source) is None  # only once
    assert ModelVersion.objects.count() == 1


@pytest.mark.django_db
def test_the_oracle_used_by_the_job_tests_is_perfect(tmp_path):
    from tests.training.support import oracle_model

    tiny_pool(per_class=8, eval_per_class=3)
    images = registry.evaluation_images()
    version = registry.register_version(oracle_model(tmp_path / "oracle.tflite", images))
    assert registry.evaluate(version)["accuracy"] == 1.0
