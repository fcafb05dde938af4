"""Engine speed: detect + classify (and recognize) one 640x480 frame with one face, one thread.

usage: python benchmarks/engine_speed.py [--runs 50] [--classifier PATH]

The frame is scikit-image's astronaut photo placed in a 640x480 canvas (a real face, about 110 px
high). Prints median milliseconds for the fast and accurate modes: wall-clock, and the CPU time of the
calling thread (every model runs on that one thread), which stays honest when other processes share the
CPUs. Recognition (SFace, one face) is timed separately.
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


def frame_640x480() -> np.ndarray:
    from skimage import data

    frame = np.full((480, 640, 3), 200, dtype=np.uint8)
    face = data.astronaut()[:400, 60:460]  # 400 x 400 with the face in its upper middle
    frame[40:440, 120:520] = face
    return frame


def median(values: list[float]) -> float:
    return round(float(np.median(values)), 2)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--classifier", type=Path, help="classifier file (default: the committed one)")
    args = parser.parse_args()

    import cv2

    from detection.engine.pipeline import Pipeline, PipelineConfig

    cv2.setNumThreads(1)
    frame = frame_640x480()
    figures = {}
    for mode in ("fast", "accurate"):
        overrides = {"num_threads": 1}
        if args.classifier:
            overrides["classifier_path"] = args.classifier
        pipeline = Pipeline(PipelineConfig.preset(mode, **overrides))
        face = pipeline.detect(frame)[0]
        for _ in range(3):
            pipeline.analyze(frame, recognize=False)
            pipeline.recognizer.embed(frame, face)
        wall, cpu, rec_wall, rec_cpu, stages = [], [], [], [], []
        for _ in range(args.runs):
            w0, c0 = time.perf_counter(), time.thread_time()
            analysis = pipeline.analyze(frame, recognize=False)
            w1, c1 = time.perf_counter(), time.thread_time()
            pipeline.recognizer.embed(frame, face)
            w2, c2 = time.perf_counter(), time.thread_time()
            wall.append((w1 - w0) * 1000)
            cpu.append((c1 - c0) * 1000)
            rec_wall.append((w2 - w1) * 1000)
            rec_cpu.append((c2 - c1) * 1000)
            stages.append(analysis.timings_ms)
        figures[mode] = {
            "faces": len(analysis.faces),
            "detect + classify ms (median wall)": median(wall),
            "detect + classify ms (median CPU)": median(cpu),
            "detect ms (median wall)": median([t["detect"] for t in stages]),
            "classify ms (median wall)": median([t["classify"] for t in stages]),
            "recognize one face ms (median wall)": median(rec_wall),
            "runs": args.runs,
        }
        print(json.dumps({"mode": mode, **figures[mode]}))
    write_report(
        "engine_speed",
        "Engine speed (640x480 frame, one face, one thread)",
        figures,
        targets={
            "fast / detect + classify ms (median wall)": "<= 15",
            "fast / recognize one face ms (median wall)": "<= 30",
        },
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
