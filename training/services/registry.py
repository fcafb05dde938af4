"""The registry of classifier versions: which file is active, the promotion gate, activation.

Every version's files are copied under MEDIA_ROOT/models/v<N>/ (written to a temporary folder,
then renamed, so a version never points at half a file). Activation bumps a version number in
the shared cache; every process (web, workers, camera watchers) reloads its classifier before
its next analysis (detection.services.engine.sync), and open pages get a `model` message.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone

from accounts.audit import record
from accounts.models import AuditEvent
from detection.engine.classifier import DEFAULT_MODEL
from detection.services.engine import MODEL_VERSION_KEY, bump
from maskportal import realtime
from training.models import ModelVersion, TrainingImage, TrainingSettings

logger = logging.getLogger(__name__)

ARTIFACT_NAME = "mask_classifier.tflite"
CARD_NAME = "mask_classifier.md"
KERAS_NAME = "mask_classifier.keras"


class RegistryError(ValueError):
    """A registry action is not allowed; the message says why."""


def models_dir() -> Path:
    return Path(settings.MEDIA_ROOT) / "models"


def artifact_path(version: ModelVersion) -> Path:
    path = Path(version.artifact)
    return path if path.is_absolute() else Path(settings.MEDIA_ROOT) / path


def keras_path(version: ModelVersion) -> Path | None:
    """The Keras file saved beside a version's TFLite file, to fine-tune from; None if absent."""
    path = artifact_path(version).with_name(KERAS_NAME)
    return path if path.exists() else None


def active_version() -> ModelVersion | None:
    return ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).order_by("-activated_at").first()


def active_model() -> tuple[Path | None, str]:
    """The active version's artifact and label; (None, "v1") keeps the engine's committed model.
    The engine service asks this through `register_model_locator` (see TrainingConfig.ready)."""
    active = active_version()
    return (artifact_path(active), str(active)) if active else (None, "v1")


def model_changed(version: ModelVersion | None = None) -> int:
    """Call after an activation or rollback: every process reloads its classifier."""
    number = bump(MODEL_VERSION_KEY)
    if version is not None:
        realtime.publish(
            realtime.DASHBOARD_GROUP, realtime.message("model", version=version.number, label=str(version))
        )
    return number


# --- storing versions -------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _input_size(path: Path) -> int:
    from ai_edge_litert.interpreter import Interpreter

    return int(Interpreter(model_path=str(path)).get_input_details()[0]["shape"][1])


def _store_files(number: int, tflite: Path, extras: list[Path]) -> Path:
    """Copy the files into a new models/v<number>-<random>/ folder atomically and return it.

    The folder is never one that exists already: a process that lost the race for a number, or a
    rolled-back registration, must not replace the files another version row points to.
    """
    models_dir().mkdir(parents=True, exist_ok=True)
    target = models_dir() / f"v{number}-{secrets.token_hex(4)}"
    staging = Path(tempfile.mkdtemp(dir=models_dir(), prefix=".staging-"))
    try:
        shutil.copyfile(tflite, staging / ARTIFACT_NAME)
        for extra in extras:
            if extra.exists():
                shutil.copyfile(extra, staging / extra.name)
        os.replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def register_version(
    tflite: Path,
    *,
    card: Path | None = None,
    keras: Path | None = None,
    metrics: dict | None = None,
    job=None,
    parent: ModelVersion | None = None,
    status: str = ModelVersion.Status.CANDIDATE,
    model=ModelVersion,
) -> ModelVersion:
    """Copy a trained model into the registry as a new numbered version (candidate by default)."""
    tflite = Path(tflite)
    if not tflite.is_file():
        raise RegistryError(f"model file {tflite} does not exist")
    extras = [p for p in (card, keras) if p is not None]
    card_text = Path(card).read_text(errors="replace") if card is not None and Path(card).exists() else ""
    for _attempt in range(5):
        number = (model.objects.aggregate(n=Max("number"))["n"] or 0) + 1
        folder = _store_files(number, tflite, [Path(p) for p in extras])
        try:
            with transaction.atomic():
                return model.objects.create(
                    number=number,
                    artifact=str((folder / ARTIFACT_NAME).relative_to(settings.MEDIA_ROOT)),
                    model_card=card_text,
                    sha256=_sha256(tflite),
                    input_size=_input_size(tflite),
                    metrics=metrics or {},
                    status=status,
                    parent=parent,
                    job=job,
                    activated_at=timezone.now() if status == ModelVersion.Status.ACTIVE else None,
                )
        except IntegrityError:  # another process took this number meanwhile
            shutil.rmtree(folder, ignore_errors=True)
            continue
    raise RegistryError("could not allocate a version number")


def register_committed_model(model=ModelVersion, source: Path = DEFAULT_MODEL) -> ModelVersion | None:
    """Version 1: the classifier committed with the code, active. Idempotent; None if it is absent.

    Called by a data migration (with the historical model class) and again before a job when the
    registry is still empty (the file may have landed after `migrate`).
    """
    if model.objects.exists():
        return None
    if not source.is_file():
        logger.info("no committed classifier at %s yet: registry left empty", source)
        return None
    metrics = {}
    for candidate in (source.with_suffix(".json"), source.with_name("metrics.json")):
        if candidate.exists():
            try:
                metrics = {"training": json.loads(candidate.read_text()).get("metrics", {})}
            except (ValueError, AttributeError):
                logger.warning("unreadable metrics file %s", candidate)
            break
    return register_version(
        source,
        card=source.with_suffix(".md"),
        keras=source.with_suffix(".keras"),
        metrics=metrics,
        status=ModelVersion.Status.ACTIVE,
        model=model,
    )


# --- evaluation and the promotion gate --------------------------------------------------


def evaluation_images() -> list[TrainingImage]:
    """The fixed evaluation set: every pool image assigned to it by content hash (or manifest)."""
    return list(TrainingImage.objects.filter(split=TrainingImage.Split.EVAL).order_by("content_hash"))


def fingerprint(images: list[TrainingImage]) -> str:
    """Identifies an evaluation set, so figures are only compared when measured on the same one."""
    digest = hashlib.sha256()
    for image in images:
        digest.update(f"{image.content_hash}:{image.label};".encode())
    return digest.hexdigest()[:16]


def evaluate(version: ModelVersion, images: list[TrainingImage] | None = None) -> dict:
    """Metrics of `version` on the evaluation set, cached on the version per set fingerprint."""
    from training.ml.data import CLASSES, Sample, build_crops
    from training.ml.evaluate import classification_metrics
    from training.ml.export import TFLiteClassifier

    images = evaluation_images() if images is None else images
    key = fingerprint(images)
    cached = version.metrics.get("eval")
    if cached and cached.get("fingerprint") == key:
        return cached
    if len({image.label for image in images}) < 2:
        raise RegistryError(
            f"the evaluation set has {len(images)} image(s) and needs both classes; import or correct more faces"
        )
    classifier = TFLiteClassifier(artifact_path(version))
    samples = [Sample(Path(image.image.path), CLASSES.index(image.label), "val") for image in images]
    crops = build_crops(samples, classifier.input_size, with_context=False)
    figures = classification_metrics(crops.labels, classifier.predict(crops.crops))
    figures.update(fingerprint=key, measured_at=timezone.now().isoformat())
    version.metrics = {**version.metrics, "eval": figures}
    version.save(update_fields=["metrics"])
    return figures


def _summary(figures: dict) -> dict:
    per_class = figures.get("per_class", {})
    return {
        "accuracy": figures.get("accuracy"),
        "roc_auc": figures.get("roc_auc"),
        "ece": figures.get("ece"),
        **{f"f1_{name}": values.get("f1") for name, values in per_class.items()},
        **{f"recall_{name}": values.get("recall") for name, values in per_class.items()},
    }


def gate(candidate: ModelVersion, margin: float | None = None, *, user=None) -> ModelVersion:
    """Activate `candidate` only if its accuracy on the evaluation set is at least the active
    model's minus `margin` accuracy points; otherwise reject it. Both figures are kept side by side.
    """
    if candidate.status != ModelVersion.Status.CANDIDATE:
        raise RegistryError(f"{candidate} is {candidate.get_status_display().lower()}, not a candidate")
    margin = TrainingSettings.current().gate_margin if margin is None else margin
    images = evaluation_images()
    mine = evaluate(candidate, images)
    active = active_version()
    report = {
        "margin_points": margin,
        "eval_images": len(images),
        "fingerprint": fingerprint(images),
        "candidate": {"version": str(candidate), **_summary(mine)},
        "active": None,
    }
    if active is None:
        passed, reason = True, "no active version"
    else:
        theirs = evaluate(active, images)
        report["active"] = {"version": str(active), **_summary(theirs)}
        needed = round(theirs["accuracy"] - margin / 100.0, 6)
        passed = round(mine["accuracy"], 6) >= needed
        reason = f"accuracy {mine['accuracy']:.2%} {'≥' if passed else '<'} {theirs['accuracy']:.2%} of {active}" + (
            f" minus a {margin:g}-point margin" if margin else ""
        )
    report.update(passed=passed, reason=reason, decided_at=timezone.now().isoformat())
    candidate.gate_report = report
    candidate.save(update_fields=["gate_report"])
    logger.info("gate %s: %s (%s)", candidate, "passed" if passed else "rejected", reason)
    if passed:
        return activate(candidate, user=user)
    candidate.status = ModelVersion.Status.REJECTED
    candidate.save(update_fields=["status"])
    return candidate


# --- admin actions ----------------------------------------------------------------------


def activate(version: ModelVersion, *, user=None) -> ModelVersion:
    """Make `version` the one active classifier (promotion or rollback); the previous one is retired."""
    if not artifact_path(version).is_file():
        raise RegistryError(f"{version}'s model file {artifact_path(version)} is missing")
    with transaction.atomic():
        locked = ModelVersion.objects.select_for_update().get(pk=version.pk)
        if locked.status == ModelVersion.Status.ACTIVE:
            return locked
        previous = (
            ModelVersion.objects.select_for_update().filter(status=ModelVersion.Status.ACTIVE).exclude(pk=locked.pk)
        )
        replaced = previous.first()
        previous.update(status=ModelVersion.Status.RETIRED)
        locked.status = ModelVersion.Status.ACTIVE
        locked.activated_at = timezone.now()
        locked.save(update_fields=["status", "activated_at"])
        # an older version than the one it replaces is a rollback; a newer one a promotion
        rollback = replaced is not None and locked.number < replaced.number
        record(
            AuditEvent.Kind.MODEL_ROLLED_BACK if rollback else AuditEvent.Kind.MODEL_PROMOTED,
            obj=locked,
            actor=user if getattr(user, "is_authenticated", False) else None,
            replaced=str(replaced) if replaced else None,
            gate=(locked.gate_report or {}).get("reason"),
        )
    transaction.on_commit(lambda: model_changed(locked))
    logger.info("activated %s (by %s)", locked, getattr(user, "username", "system"))
    return locked


def reject_orphan_candidates() -> int:
    """Reject the candidates of jobs that ended without deciding them (their worker died during
    the promotion check) and delete their files: an undecided candidate is never left behind.
    Returns how many were rejected."""
    from training.models import TrainingJob

    ended = TrainingJob.objects.exclude(status__in=[TrainingJob.Status.QUEUED, TrainingJob.Status.RUNNING])
    orphans = ModelVersion.objects.filter(status=ModelVersion.Status.CANDIDATE, job__in=ended)
    count = 0
    for version in orphans:
        reason = f"its training job {version.job_id} stopped before the promotion check decided"
        report = {**version.gate_report, "passed": False, "decided_at": timezone.now().isoformat(), "reason": reason}
        if ModelVersion.objects.filter(pk=version.pk, status=ModelVersion.Status.CANDIDATE).update(
            status=ModelVersion.Status.REJECTED, gate_report=report
        ):
            folder = artifact_path(version).parent
            if folder.resolve().is_relative_to(models_dir().resolve()) and folder.resolve() != models_dir().resolve():
                shutil.rmtree(folder, ignore_errors=True)
            logger.warning("rejected orphan candidate %s of job %s", version, version.job_id)
            count += 1
    return count


def retire(version: ModelVersion, *, user=None) -> ModelVersion:
    """Take a version out of use; the active one can only be replaced, never just retired."""
    if version.status == ModelVersion.Status.ACTIVE:
        raise RegistryError(f"{version} is active: activate another version first")
    version.status = ModelVersion.Status.RETIRED
    version.save(update_fields=["status"])
    logger.info("retired %s (by %s)", version, getattr(user, "username", "?"))
    return version
