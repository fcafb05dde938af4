"""A third mask state, "worn incorrectly", as a measured experiment (shipped only if it clears the bar).

usage: nice -n 5 python benchmarks/mask_third_state.py [--datasets DIR] [--synthetic 400]

Real faces: every annotated face of `mask-detection-dev` (with / without / worn incorrectly, 72 of
the last), cropped around the detector-like box the engine classifies. Synthetic "incorrect"
faces: unmasked `mask-classification` training photos with a mask drawn from their landmarks
below the nose (nose exposed) or on the chin only, in varied colours. Features: the ImageNet
MobileNet embedding of the crop plus the committed classifier's probability; a multinomial
logistic regression, 5-fold cross-fitted grouped by photo (synthetic faces only ever train).
The bar (issue 15): "incorrect" precision >= .80 and recall >= .60 out of fold on the real faces,
and two-class accuracy not below the committed classifier's on the same faces.
Writes benchmarks/reports/mask_third_state.json.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from _datasets import dataset_dirs, datasets_parser  # noqa: E402
from report import write_report  # noqa: E402

CLASSES = ("without_mask", "with_mask", "mask_weared_incorrect")
COLOURS = ((70, 130, 200), (235, 160, 190), (180, 160, 220), (30, 30, 30), (240, 240, 240), (90, 150, 90))


def misplaced_mask(image: np.ndarray, landmarks: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A mask drawn too low: its top at the nose tip (nose exposed) or at the mouth (chin only)."""
    from detection.engine.masking import draw_mask

    points = np.asarray(landmarks, dtype=np.float64).copy()
    eyes_mid = points[:2].mean(axis=0)
    target = points[2] if rng.random() < 0.6 else points[3:5].mean(axis=0)
    points[:2] += target - eyes_mid
    colour = COLOURS[rng.integers(len(COLOURS))]
    return draw_mask(image, points.astype(np.float32), "cloth" if rng.random() < 0.5 else "surgical", colour)


class Embedder:
    """ImageNet MobileNet v1 features (1024-d) from the shared pretrained models."""

    def __init__(self, path: Path) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.interpreter = Interpreter(model_path=str(path), num_threads=1)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]

    def __call__(self, crop: np.ndarray) -> np.ndarray:
        import cv2

        size = int(self.input["shape"][1])
        x = cv2.resize(crop, (size, size), interpolation=cv2.INTER_LINEAR)[None].astype(self.input["dtype"])
        self.interpreter.set_tensor(self.input["index"], x)
        self.interpreter.invoke()
        out = self.interpreter.get_tensor(self.output["index"]).reshape(-1).astype(np.float64)
        scale, zero = self.output.get("quantization", (0.0, 0))
        return (out - zero) * scale if scale else out


def main() -> int:
    parser = datasets_parser(__doc__)
    parser.add_argument("--synthetic", type=int, default=400)
    args = parser.parse_args()
    dev_dir, crops_dir, extractor = dataset_dirs(
        args.datasets,
        "mask-detection-dev",
        "mask-classification",
        "imagenet-pretrained/mobilenet_v1_1.0_224_quant_embedding_extractor.tflite",
    )

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from detection.engine.classifier import MaskClassifier
    from detection.engine.crops import crop_face
    from detection.engine.imageio import decode_image
    from training.ml.data import list_samples
    from training.ml.devset import detector_like_box, iter_dev_faces
    from training.ml.faces import _get_detector

    classifier, embed, rng = MaskClassifier(), Embedder(extractor), np.random.default_rng(15)
    size = 128

    def features(image: np.ndarray, box) -> np.ndarray:
        crop = crop_face(image, box, size)
        probability = classifier.predict(image, [box])[0]
        return np.concatenate([embed(crop), [probability]])

    x_real, y_real, groups = [], [], []
    previous = None
    for image, name, box in iter_dev_faces(dev_dir):
        if image is not previous:  # faces come photo by photo, one decoded image each
            previous = image
            groups_seen = len(set(groups))
        x_real.append(features(image, detector_like_box(box)))
        y_real.append(CLASSES.index(name))
        groups.append(groups_seen)
    x_real, y_real, groups = np.array(x_real), np.array(y_real), np.array(groups)

    x_syn = []
    unmasked = [s for s in list_samples(crops_dir) if s.split == "train" and s.label == 0]
    for sample in [unmasked[i] for i in rng.permutation(len(unmasked))]:
        if len(x_syn) >= args.synthetic:
            break
        image = decode_image(sample.path)
        faces = _get_detector().detect(image)
        if faces:
            face = max(faces, key=lambda d: d.width * d.height)
            x_syn.append(features(misplaced_mask(image, face.landmarks, rng), face.box))
    x_syn = np.array(x_syn)

    predicted = np.zeros(len(y_real), dtype=int)
    fold_of_photo = rng.permutation(int(groups.max()) + 1) % 5
    for k in range(5):
        test = fold_of_photo[groups] == k
        x_train = np.concatenate([x_real[~test], x_syn])
        y_train = np.concatenate([y_real[~test], np.full(len(x_syn), 2)])
        model = make_pipeline(StandardScaler(), LogisticRegression(C=0.05, max_iter=2000, class_weight="balanced"))
        predicted[test] = model.fit(x_train, y_train).predict(x_real[test])
    incorrect_true, incorrect_pred = y_real == 2, predicted == 2
    two = y_real < 2
    committed = (x_real[:, -1] >= 0.5).astype(int)
    precision = float((incorrect_true & incorrect_pred).sum() / max(1, incorrect_pred.sum()))
    recall = float((incorrect_true & incorrect_pred).sum() / max(1, incorrect_true.sum()))
    figures = {
        "real_faces": {name: int((y_real == i).sum()) for i, name in enumerate(CLASSES)},
        "synthetic_incorrect_faces": len(x_syn),
        "incorrect_precision_out_of_fold": round(precision, 4),
        "incorrect_recall_out_of_fold": round(recall, 4),
        "two_class_accuracy_three_state_model": round(float((predicted[two] == y_real[two]).mean()), 4),
        "two_class_accuracy_committed_classifier": round(float((committed[two] == y_real[two]).mean()), 4),
        "ships": bool(
            precision >= 0.8
            and recall >= 0.6
            and (predicted[two] == y_real[two]).mean() >= (committed[two] == y_real[two]).mean()
        ),
    }
    write_report(
        "mask_third_state",
        'Third mask state "worn incorrectly" (experiment, 5-fold grouped by photo on real dev faces)',
        figures,
        targets={"incorrect_precision_out_of_fold": ">= 0.80", "incorrect_recall_out_of_fold": ">= 0.60"},
        notes=[
            "The committed classifier saw the even half of the dev photos in training, so its two-class "
            "figure here is optimistic; the three-state model's is out of fold.",
        ],
    )
    print(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
