"""Face recognition accuracy and match-threshold tuning on face-recognition-dev (LFW people).

usage: python benchmarks/recognition_accuracy.py [--recognizer sface|dlib|all] [--data DIR] [--far 0.01]
       [--cache DIR]

Protocol (open set): people with one photo and every 5th other person (sorted by name) are
*unknown*: none of their photos is enrolled. Every other person enrols their first photo; their
other photos are the probes. Each probe is tested plain and with a drawn mask (shape and colour
vary by photo). Two galleries: the enrolment photos only, and those plus four drawn-mask variants
per photo (as the registry enrols), whose rows use the stricter variant threshold.

Thresholds: the recognizer's shipped defaults are evaluated, and fresh ones are tuned for the target
false-accept rate on half of the unknown people (even index), then checked on the other half (odd).
Embeddings are cached in --cache (default var/bench) so re-scoring is instant.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from report import write_report  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "face-recognition-dev"
#: Enrolment variants (as the registry draws them) and probe masks (other colours, so probes never
#: reproduce an enrolled variant exactly).
VARIANT_STYLES = (
    ("surgical", (160, 200, 230)),
    ("cloth", (40, 40, 45)),
    ("cloth", (225, 225, 220)),
    ("n95", (245, 245, 245)),
)
PROBE_STYLES = (
    ("surgical", (120, 170, 210)),
    ("cloth", (20, 60, 120)),
    ("n95", (230, 230, 230)),
    ("cloth", (90, 90, 95)),
)


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


def embed_all(recognizer: str, data: Path, cache: Path) -> dict:
    """Embeddings of every photo: plain, one drawn-mask probe, and (enrolment photos) four variants."""
    path = cache / f"recognition_{recognizer}.npz"
    if path.exists():
        loaded = np.load(path, allow_pickle=False)
        return {k: loaded[k] for k in loaded.files}
    import cv2

    from detection.engine.imageio import decode_image
    from detection.engine.masking import draw_mask
    from detection.engine.pipeline import Pipeline, PipelineConfig

    cv2.setNumThreads(1)
    pipeline = Pipeline(PipelineConfig.preset("accurate", recognizer=recognizer, num_threads=1))
    rec = pipeline.recognizer
    known, unknown = split_people(data)
    names, person_idx, is_enrol, plain, masked, variants, ms = [], [], [], [], [], [], []
    for group, people in (("known", known), ("unknown", unknown)):
        for idx, (name, photos) in enumerate(people.items()):
            for k, photo in enumerate(photos):
                image = decode_image(photo)
                face = central_face(pipeline, image)
                if face is None:
                    continue
                start = time.perf_counter()
                plain.append(rec.embed(image, face))
                ms.append((time.perf_counter() - start) * 1000)
                shape, color = PROBE_STYLES[len(plain) % len(PROBE_STYLES)]
                probe_image = draw_mask(image, face.landmarks, shape, color)
                masked.append(rec.embed(probe_image, central_face(pipeline, probe_image) or face))
                enrol = group == "known" and k == 0
                variants.append(
                    np.stack([rec.embed(draw_mask(image, face.landmarks, s, c), face) for s, c in VARIANT_STYLES])
                    if enrol
                    else np.zeros((len(VARIANT_STYLES), rec.dimension), np.float32)
                )
                names.append(name if group == "known" else "")
                person_idx.append(idx)
                is_enrol.append(enrol)
    out = {
        "names": np.array(names),
        "person_idx": np.array(person_idx),
        "is_enrol": np.array(is_enrol),
        "plain": np.stack(plain),
        "masked": np.stack(masked),
        "variants": np.stack(variants),
        "ms": np.array(ms),
        "metric": np.array(rec.metric),
    }
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, **out)
    return out


def shipped_thresholds(recognizer: str) -> tuple[float, float]:
    """The thresholds the recognizer class ships with (no model needs loading)."""
    from detection.engine.recognizers.dlib_resnet import DlibRecognizer
    from detection.engine.recognizers.sface import SFaceRecognizer

    cls = {"sface": SFaceRecognizer, "dlib": DlibRecognizer}[recognizer]
    return cls.default_threshold, cls.default_variant_threshold


def score(d: dict, recognizer: str, far_target: float) -> dict:
    from detection.engine.gallery import Gallery

    metric = str(d["metric"])
    names, enrol = d["names"], d["is_enrol"]
    known_probe = (names != "") & ~enrol
    unknown = names == ""
    tune = unknown & (d["person_idx"] % 2 == 0)
    check = unknown & (d["person_idx"] % 2 == 1)

    def gallery(threshold, variant_threshold, with_variants):
        g = Gallery(metric=metric, threshold=threshold, variant_threshold=variant_threshold, recognizer=recognizer)
        g.add_many(list(names[enrol]), d["plain"][enrol])
        if with_variants:
            k = d["variants"].shape[1]
            g.add_many(
                list(np.repeat(names[enrol], k)),
                d["variants"][enrol].reshape(-1, d["plain"].shape[1]),
                variants=[True] * (int(enrol.sum()) * k),
            )
        return g

    def rates(g, probes):
        matches = g.match(probes)
        ident = np.array([m.identity or "" for m in matches])
        accepted = ident != ""
        return {
            "identified": round(float((ident == names)[known_probe].mean()), 4),
            "far_heldout_unknowns": round(float(accepted[check].mean()), 4),
            "far_all_unknowns": round(float(accepted[unknown].mean()), 4),
        }

    # Tune: plain threshold from plain unknown probes against enrolment photos; variant threshold
    # from masked unknown probes against the variant rows alone.
    base = gallery(10.0, 10.0, False)
    plain_best = base.distances(d["plain"][tune]).min(1)
    thr = float(np.quantile(plain_best, far_target, method="lower")) - 1e-6
    k = d["variants"].shape[1]
    var_only = Gallery(
        list(np.repeat(names[enrol], k)),
        d["variants"][enrol].reshape(-1, d["plain"].shape[1]),
        metric=metric,
        threshold=10.0,
    )
    var_best = var_only.distances(d["masked"][tune]).min(1)
    var_thr = float(np.quantile(var_best, far_target, method="lower")) - 1e-6

    closed = base.distances(d["plain"][known_probe]).argmin(1)
    closed_masked = base.distances(d["masked"][known_probe]).argmin(1)
    enrolled = names[enrol]
    report = {
        "recognizer": recognizer,
        "known_people": int(enrol.sum()),
        "unknown_people": int(len(set(d["person_idx"][unknown]))),
        "known_probes": int(known_probe.sum()),
        "unknown_probes": int(unknown.sum()),
        "ms_per_face_median": round(float(np.median(d["ms"])), 2),
        "rank1_plain": round(float((enrolled[closed] == names[known_probe]).mean()), 4),
        "rank1_masked_probe": round(float((enrolled[closed_masked] == names[known_probe]).mean()), 4),
    }
    for label, (t, vt) in {
        "shipped_thresholds": shipped_thresholds(recognizer),
        "tuned_thresholds": (thr, var_thr),
    }.items():
        block = {"threshold": round(t, 4), "variant_threshold": round(vt, 4)}
        for gname, with_variants in (("enrolment_only", False), ("with_mask_variants", True)):
            g = gallery(t, vt, with_variants)
            block[gname] = {"plain_probe": rates(g, d["plain"]), "masked_probe": rates(g, d["masked"])}
        report[label] = block
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recognizer", default="all", choices=("sface", "dlib", "all"))
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--far", type=float, default=0.01, help="target false-accept rate for tuning")
    parser.add_argument("--cache", type=Path, default=Path(__file__).resolve().parents[1] / "var" / "bench")
    args = parser.parse_args()
    figures = {}
    for name in ("sface", "dlib") if args.recognizer == "all" else (args.recognizer,):
        figures[name] = score(embed_all(name, args.data, args.cache), name, args.far)
        print(json.dumps(figures[name]), flush=True)
    write_report(
        f"recognition_accuracy_{args.recognizer}",
        f"Recognition accuracy, engine only ({args.recognizer}; face-recognition-dev, one enrolled photo a person)",
        figures,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
