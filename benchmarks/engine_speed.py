"""Engine speed: detect + classify (and recognize) one 640x480 frame with one face, one thread.

usage: python benchmarks/engine_speed.py [--runs 50] [--classifier PATH]

The frame is scikit-image's astronaut photo placed in a 640x480 canvas (a real face, about 110 px
high). Prints the median and 90th percentile milliseconds per stage for the fast and accurate modes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def frame_640x480() -> np.ndarray:
    from skimage import data

    frame = np.full((480, 640, 3), 200, dtype=np.uint8)
    face = data.astronaut()[:400, 60:460]  # 400 x 400 with the face in its upper middle
    frame[40:440, 120:520] = face
    return frame


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--classifier", type=Path, help="classifier file (default: the committed one)")
    args = parser.parse_args()

    import cv2

    from detection.engine.pipeline import Pipeline, PipelineConfig

    cv2.setNumThreads(1)
    frame = frame_640x480()
    for mode in ("fast", "accurate"):
        overrides = {"num_threads": 1}
        if args.classifier:
            overrides["classifier_path"] = args.classifier
        pipeline = Pipeline(PipelineConfig.preset(mode, **overrides))
        gallery = pipeline.new_gallery()
        gallery.add("astronaut", pipeline.embed(frame))
        pipeline.set_gallery(gallery)
        for _ in range(3):
            pipeline.analyze(frame)
        timings = [pipeline.analyze(frame).timings_ms for _ in range(args.runs)]
        faces = len(pipeline.analyze(frame).faces)
        stages = {}
        for key in ("detect", "classify", "recognize", "total"):
            values = np.array([t[key] for t in timings])
            stages[key] = {
                "median": round(float(np.median(values)), 2),
                "p90": round(float(np.percentile(values, 90)), 2),
            }
        detect_classify = np.array([t["detect"] + t["classify"] for t in timings])
        print(
            json.dumps(
                {
                    "mode": mode,
                    "faces": faces,
                    "detect_classify_median_ms": round(float(np.median(detect_classify)), 2),
                    "stages_ms": stages,
                    "runs": args.runs,
                }
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
