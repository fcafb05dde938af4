"""The registry as the engine sees it: a Gallery built from the database's stored embeddings,
and recognition of the faces in a photo against it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from django.db.models import QuerySet

from detection.engine.enrolment import add_samples
from detection.engine.gallery import Gallery
from detection.engine.pipeline import Pipeline
from detection.engine.types import Box
from detection.models import FaceSample, Person, PlatformSettings
from detection.services.engine import GALLERY_VERSION_KEY, bump, pipeline, recheck
from maskportal.realtime import DASHBOARD_GROUP, message, publish


def thresholds(target: Pipeline) -> tuple[float, float]:
    """(plain, variant) distance thresholds: the engine's tuned pair, or the admin's threshold with
    the variant threshold kept at the same margin below it."""
    rec = target.recognizer
    chosen = PlatformSettings.current().recognition_threshold
    if chosen is None:
        return rec.default_threshold, rec.default_variant_threshold
    return chosen, chosen - (rec.default_threshold - rec.default_variant_threshold)


def recognisable(people: QuerySet[Person]) -> QuerySet[Person]:
    """The people the gallery may match: active, and with a lawful basis on record and not
    withdrawn while the platform requires one (the default)."""
    people = people.filter(active=True)
    if PlatformSettings.current().require_consent:
        people = people.filter(consent__isnull=False, consent_withdrawn_at__isnull=True)
    return people


def build_gallery(target: Pipeline) -> Gallery:
    """Every recognisable person's samples embedded by the pipeline's recognizer; names are person ids.

    Synthetic-mask variants are flagged so they match only within the stricter variant threshold.
    """
    threshold, variant_threshold = thresholds(target)
    gallery = target.new_gallery(threshold=threshold, variant_threshold=variant_threshold)
    rows = list(
        FaceSample.objects.filter(
            person__in=recognisable(Person.objects.all()), embedding_model=gallery.recognizer
        ).values_list("person_id", "embedding", "variant_of_id")
    )
    if rows:
        add_samples(
            gallery,
            [str(person_id) for person_id, _, _ in rows],
            np.frombuffer(b"".join(bytes(blob) for _, blob, _ in rows), dtype="<f4").reshape(len(rows), -1),
            [variant_of for _, _, variant_of in rows],
        )
    return gallery


def registry_changed() -> int:
    """Call after any change to people or samples: every process rebuilds its gallery."""
    version = bump(GALLERY_VERSION_KEY)
    recheck()
    publish(DASHBOARD_GROUP, message("gallery", version=version))
    return version


@dataclass(frozen=True)
class RecognisedFace:
    box: Box
    score: float
    person: Person | None
    distance: float | None


def recognise(image: np.ndarray) -> list[RecognisedFace]:
    """Every face of a decoded photo with its registered person (None: unknown)."""
    shared = pipeline()
    faces = shared.detect(image)
    gallery = shared.gallery
    if not faces or gallery is None or not len(gallery):
        return [RecognisedFace(f.box, f.score, None, None) for f in faces]
    matches = gallery.match(shared.recognizer.embed_many(image, faces))
    people = Person.objects.in_bulk([int(m.identity) for m in matches if m.identity])
    return [
        RecognisedFace(f.box, f.score, people.get(int(m.identity)) if m.identity else None, m.distance)
        for f, m in zip(faces, matches, strict=True)
    ]
