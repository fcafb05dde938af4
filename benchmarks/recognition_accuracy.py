"""Face recognition accuracy and match-threshold tuning on face-recognition-dev (LFW people).

usage: python benchmarks/recognition_accuracy.py [--recognizer sface|dlib|all] [--data DIR] [--far 0.01]

Protocol (open set): people with one photo and every 5th other person (sorted by name) are
*unknown*: none of their photos is enrolled. Every other person enrols their first photo (plus a
drawn-mask copy of it in the "+mask variant" gallery); their other photos are the probes. Each probe is
also tested with a mask drawn from its landmarks. The threshold is the largest distance that keeps
false accepts of unknown faces at or below --far on half of the unknown people (even index); the
false-accept rate is then reported on the other half (odd index) and on all unknowns.

Prints per recognizer: rank-1 (closed set), identification rate at the threshold (right person and
close enough), false-accept rate of unknowns, for plain and drawn-mask probes, and ms per face.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "face-recognition-dev"


def split_people(root: Path) -> tuple[dict[str, list[Path]], dict[str, list[Path]]]:
    """(known, unknown) people with their sorted photos."""
    people = {p.name: sorted(p.glob("*.jpg")) for p in sorted(root.iterdir()) if p.is_dir()}
    multi = [n for n, photos in people.items() if len(photos) >= 2]
    unknown_names = {n for n, photos in people.items() if len(photos) == 1} | set(multi[4::5])
    known = {n: people[n] for n in multi if n not in unknown_names}
    unknown = {n: people[n] for n in sorted(unknown_names)}
    return known, unknown


def central_face(pipeline, image):
    """LFW photos are centred on their person: take the detection nearest the centre."""
    faces = pipeline.detect(image)
    if not faces:
        return None
    h, w = image.shape[:2]
    return min(faces, key=lambda d: ((d.box[0] + d.box[2]) / 2 - w / 2) ** 2 + ((d.box[1] + d.box[3]) / 2 - h / 2) ** 2)


def embed_photo(pipeline, path: Path, timings: list[float]):
    """(plain, masked) embeddings of the central face, or None when no face is found."""
    from detection.engine.imageio import decode_image
    from detection.engine.masking import draw_mask

    image = decode_image(path)
    face = central_face(pipeline, image)
    if face is None:
        return None
    start = time.perf_counter()
    plain = pipeline.recognizer.embed(image, face)
    timings.append((time.perf_counter() - start) * 1000)
    masked_image = draw_mask(image, face.landmarks)
    masked_face = central_face(pipeline, masked_image) or face
    return plain, pipeline.recognizer.embed(masked_image, masked_face)


def evaluate(recognizer: str, data: Path, far_target: float) -> dict:
    import cv2

    from detection.engine.gallery import Gallery
    from detection.engine.pipeline import Pipeline, PipelineConfig

    cv2.setNumThreads(1)
    pipeline = Pipeline(PipelineConfig.preset("accurate", recognizer=recognizer, num_threads=1))
    known, unknown = split_people(data)
    timings: list[float] = []
    missed = 0
    gallery_plain, gallery_masked = [], []  # (name, embedding)
    probes = []  # (true name or None, unknown person index, plain, masked)
    for name, photos in known.items():
        for k, photo in enumerate(photos):
            emb = embed_photo(pipeline, photo, timings)
            if emb is None:
                missed += 1
                continue
            if k == 0:
                gallery_plain.append((name, emb[0]))
                gallery_masked.extend([(name, emb[0]), (name, emb[1])])
            else:
                probes.append((name, -1, emb[0], emb[1]))
    for idx, (_, photos) in enumerate(unknown.items()):
        for photo in photos:
            emb = embed_photo(pipeline, photo, timings)
            if emb is None:
                missed += 1
                continue
            probes.append((None, idx, emb[0], emb[1]))

    rec = pipeline.recognizer
    report = {
        "recognizer": recognizer,
        "known_people": len(known),
        "unknown_people": len(unknown),
        "known_probes": sum(p[0] is not None for p in probes),
        "unknown_probes": sum(p[0] is None for p in probes),
        "photos_without_face": missed,
        "ms_per_face_median": round(float(np.median(timings)), 2),
    }
    for label, rows in (("plain_gallery", gallery_plain), ("mask_variant_gallery", gallery_masked)):
        gallery = Gallery([n for n, _ in rows], np.stack([e for _, e in rows]), metric=rec.metric,
                          threshold=rec.default_threshold, recognizer=rec.name)
        names = np.array([n for n, _ in rows])
        result = {}
        for kind, col in (("plain_probe", 2), ("masked_probe", 3)):
            dist = gallery.distances(np.stack([p[col] for p in probes]))
            best = dist.argmin(1)
            best_d = dist[np.arange(len(dist)), best]
            truth = np.array([p[0] or "" for p in probes])
            is_known = truth != ""
            unknown_idx = np.array([p[1] for p in probes])
            tune = (~is_known) & (unknown_idx % 2 == 0)
            check = (~is_known) & (unknown_idx % 2 == 1)
            correct = names[best] == truth
            tuned = float(np.quantile(best_d[tune], far_target, method="lower")) - 1e-6
            result[kind] = {
                "rank1": round(float(correct[is_known].mean()), 4),
                "threshold_for_far": round(tuned, 4),
            }
            for tname, thr in (("default_threshold", rec.default_threshold), ("tuned_threshold", tuned)):
                accept = best_d <= thr
                result[kind][tname] = {
                    "threshold": round(float(thr), 4),
                    "identified": round(float((correct & accept)[is_known].mean()), 4),
                    "far_heldout_unknowns": round(float(accept[check].mean()), 4),
                    "far_all_unknowns": round(float(accept[~is_known].mean()), 4),
                }
        report[label] = result
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recognizer", default="all", choices=("sface", "dlib", "all"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--far", type=float, default=0.01, help="target false-accept rate for tuning")
    args = parser.parse_args()
    for name in ("sface", "dlib") if args.recognizer == "all" else (args.recognizer,):
        print(json.dumps(evaluate(name, args.data, args.far)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
