"""The face registry end to end on face-recognition-dev (LFW): enrolment through the quality gate
with synthetic-mask variants, recognition of plain and masked probes, unknown false accepts, speed.

usage: DJANGO_SETTINGS_MODULE=maskportal.settings.development \\
       python benchmarks/registry_recognition.py [--data DIR] [--people N] [--gallery-size 10000]

Protocol: the people split of benchmarks/recognition_accuracy.py (people with one photo and every
5th other person are unknown: never enrolled). Each known person enrols ONE photo, their first,
through `detection.services.enrolment.prepare` (quality gate, four drawn-mask variants), exactly as
the registry stores it; their other photos are probes, tested plain and with a mask drawn from
their landmarks in a shape and colour the enrolment never used. The gallery is the registry's
(`detection.engine.enrolment.add_samples`: the photo, plus the mean of its four variants as one
flagged variant row), at the recognizer's shipped thresholds: the same thresholds for every figure.
Prints one JSON object.

Speed: median milliseconds to match one face against --gallery-size enrolled people (each with a
photo and four variants, pooled to 2 rows a person), and to enrol one photo (detect, gate, embed the photo
and its four variants; the database write is not included).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one face per call: BLAS threads only add spin-up jitter
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from recognition_accuracy import DEFAULT_DATA, PROBE_STYLES, central_face, split_people  # noqa: E402
from report import write_report  # noqa: E402


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "maskportal.settings.development")
    import django

    django.setup()


def evaluate(data: Path, people_limit: int | None) -> dict:
    import cv2

    from detection.engine.enrolment import add_samples
    from detection.engine.imageio import decode_image
    from detection.engine.masking import draw_mask
    from detection.services.enrolment import EnrolmentRejected, enrolment_pipeline, prepare

    cv2.setNumThreads(1)
    pipeline = enrolment_pipeline()
    rec = pipeline.recognizer
    known, unknown = split_people(data)
    if people_limit:
        known = dict(list(known.items())[:people_limit])
        unknown = dict(list(unknown.items())[:people_limit])
    enrol_ms, rejected = [], Counter()
    rows: list[tuple[str, np.ndarray, int | None]] = []  # (name, embedding, photo a variant was drawn on)
    probes: list[tuple[str, np.ndarray, np.ndarray]] = []  # (name or "" for unknown, plain, masked)
    for group, people in (("known", known), ("unknown", unknown)):
        for name, photos in people.items():
            for k, photo in enumerate(photos):
                image = decode_image(photo)
                face = central_face(pipeline, image)
                if face is None:
                    rejected["probe_without_face"] += 1
                    continue
                if group == "known" and k == 0:
                    start = time.perf_counter()
                    try:
                        prepared = prepare(decode_image(photo), pipeline=pipeline, near_box=face.box)
                    except EnrolmentRejected as exc:
                        rejected[exc.code] += 1
                        continue
                    enrol_ms.append((time.perf_counter() - start) * 1000)
                    rows.append((name, prepared.embedding, None))
                    rows.extend((name, emb, len(rows)) for _, _, emb in prepared.variants)
                    continue
                shape, color = PROBE_STYLES[len(probes) % len(PROBE_STYLES)]
                masked_image = draw_mask(image, face.landmarks, shape, color)
                masked_face = central_face(pipeline, masked_image) or face
                probes.append(
                    (name if group == "known" else "", rec.embed(image, face), rec.embed(masked_image, masked_face))
                )
    enrolled = {n for n, _, _ in rows}
    truth = np.array([n if n in enrolled else "" for n, _, _ in probes])
    is_known = truth != ""
    report: dict = {
        "recognizer": rec.name,
        "threshold": rec.default_threshold,
        "variant_threshold": rec.default_variant_threshold,
        "enrolled_people": len(enrolled),
        "known_probes": int(is_known.sum()),
        "unknown_people": len(unknown),
        "unknown_probes": int((~is_known).sum()),
        "enrolment_rejections": dict(rejected),
    }
    for label, with_variants in (("photo_only", False), ("with_mask_variants", True)):
        gallery = pipeline.new_gallery()
        chosen = [r for r in rows if with_variants or r[2] is None]
        names = np.array(
            add_samples(
                gallery, [n for n, _, _ in chosen], np.stack([e for _, e, _ in chosen]), [g for *_, g in chosen]
            )
        )
        block = {}
        for kind, col in (("plain_probe", 1), ("masked_probe", 2)):
            queries = np.stack([p[col] for p in probes])
            nearest = names[gallery.distances(queries).argmin(1)]
            identity = np.array([m.identity or "" for m in gallery.match(queries)])
            block[kind] = {
                "rank1": round(float((nearest == truth)[is_known].mean()), 4),
                "identified_at_threshold": round(float((identity == truth)[is_known].mean()), 4),
                "unknown_false_accepts": round(float((identity != "")[~is_known].mean()), 4),
            }
        report[label] = block
    report["enrol_ms_median"] = round(float(np.median(enrol_ms)), 1)
    report["enrol_ms_p90"] = round(float(np.percentile(enrol_ms, 90)), 1)
    return report


def match_speed(pipeline, people: int, runs: int = 300) -> dict:
    """Milliseconds to match one face against `people` enrolled with a photo and 4 variants each."""
    from detection.engine.enrolment import add_samples

    rng = np.random.default_rng(0)
    dim = pipeline.recognizer.dimension
    gallery = pipeline.new_gallery()
    add_samples(
        gallery,
        [str(i // 5) for i in range(people * 5)],
        rng.standard_normal((people * 5, dim)).astype(np.float32),
        [None if i % 5 == 0 else i - i % 5 for i in range(people * 5)],
    )
    query = rng.standard_normal((1, dim)).astype(np.float32)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        gallery.match(query)
        times.append((time.perf_counter() - start) * 1000)
    return {
        "gallery_people": people,
        "gallery_rows": len(gallery),
        "match_ms_median": round(float(np.median(times)), 3),
        "match_ms_p90": round(float(np.percentile(times, 90)), 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--people", type=int, help="only the first N known and N unknown people (a quick run)")
    parser.add_argument("--gallery-size", type=int, default=10_000)
    args = parser.parse_args()
    setup_django()
    from detection.services.enrolment import enrolment_pipeline

    report = evaluate(args.data, args.people)
    report.update(match_speed(enrolment_pipeline(), args.gallery_size))
    print(json.dumps(report, indent=2))
    write_report(
        "registry_recognition" if args.people is None else "registry_recognition_quick",
        "Recognition through the registry (enrolment with mask variants; face-recognition-dev)"
        + ("" if args.people is None else f", first {args.people} people"),
        report,
        targets={"match_ms_median": "<= 5"},
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
