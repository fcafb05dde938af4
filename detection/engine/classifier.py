"""Mask / no-mask classification of face crops with the committed LiteRT model.

The model contract (shared with training): float32 RGB pixels 0..255 of shape (N, S, S, 3), S read
from the model; the model normalises itself; output (N, 1) = P(with_mask) or (N, 2) softmax
[without_mask, with_mask]. Crops come from `crops.crop_face`, exactly as training cut them, except
in photos lit by strongly coloured light (see `light_gains`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from detection.engine.crops import crop_face
from detection.engine.detectors.base import ThreadLocal
from detection.engine.types import WITH_MASK, WITHOUT_MASK, Box

#: The classifier committed with the code: the engine's default and version 1 of every installation's registry.
DEFAULT_MODEL = Path(__file__).resolve().parent / "models" / "mask_classifier.tflite"
#: A photo whose brightest colour channel averages more than this many times its dimmest is taken to
#: be lit by coloured light: the 99th percentile over the classifier's training photos, so hardly any
#: photo it learnt from is as strongly cast.
CAST_LIMIT = 2.5
#: Every STRIDE-th pixel of every STRIDE-th row is enough to measure the light.
CAST_STRIDE = 4


def _channel_means(image_rgb: np.ndarray) -> np.ndarray:
    return image_rgb[::CAST_STRIDE, ::CAST_STRIDE].reshape(-1, 3).mean(axis=0) + 1e-3


def cast_strength(image_rgb: np.ndarray) -> float:
    """Brightest over dimmest colour channel mean: 1 in grey light, over `CAST_LIMIT` in coloured light."""
    means = _channel_means(image_rgb)
    return float(means.max() / means.min())


def light_gains(image_rgb: np.ndarray) -> np.ndarray | None:
    """Grey-world gains (one per channel) that neutralise a strong colour cast, or None.

    Under sodium or tungsten lamps a pale mask takes the colour of skin and the classifier calls
    it "without mask"; balanced, it reads as a mask again. Ordinary light is left alone.
    """
    means = _channel_means(image_rgb)
    if means.max() <= CAST_LIMIT * means.min():
        return None
    return (means.mean() / means).astype(np.float32)


def balanced(crops: np.ndarray, gains: np.ndarray) -> np.ndarray:
    """Float crops under neutral light: `light_gains` applied, clipped to the pixel range."""
    return np.clip(crops * gains, 0, 255)


class _Runner:
    """One interpreter (not thread-safe: one per thread), resized to the batch size on demand."""

    def __init__(self, model_bytes: bytes, num_threads: int) -> None:
        self.interpreter = Interpreter(model_content=model_bytes, num_threads=num_threads)
        self.interpreter.allocate_tensors()
        self.input = self.interpreter.get_input_details()[0]
        self.output = self.interpreter.get_output_details()[0]
        self.batch = int(self.input["shape"][0])

    def run(self, batch: np.ndarray) -> np.ndarray:
        n = batch.shape[0]
        # Re-allocating tensors costs more than classifying a few padding crops, so batch sizes
        # go up in powers of two and the interpreter is only resized when a bucket changes.
        size = 1 << (n - 1).bit_length()
        if size != self.batch:
            self.interpreter.resize_tensor_input(self.input["index"], [size, *batch.shape[1:]])
            self.interpreter.allocate_tensors()
            self.output = self.interpreter.get_output_details()[0]
            self.batch = size
        if size != n:
            batch = np.concatenate([batch, np.zeros((size - n, *batch.shape[1:]), dtype=batch.dtype)])
        self.interpreter.set_tensor(self.input["index"], batch)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self.output["index"])[:n].copy()


class MaskClassifier:
    """Probability of `with_mask` for every face of one image, in one model call."""

    def __init__(self, model_path: str | Path = DEFAULT_MODEL, *, num_threads: int = 1, threshold: float = 0.5) -> None:
        path = Path(model_path)
        if not path.is_file():
            raise FileNotFoundError(f"mask classifier model not found: {path}")
        self.model_path = path
        self.threshold = threshold
        model_bytes = path.read_bytes()
        self._runner = ThreadLocal(lambda: _Runner(model_bytes, num_threads))
        runner = self._runner.get()  # fail at load time on a broken file
        shape = runner.input["shape"]
        if len(shape) != 4 or shape[1] != shape[2] or shape[3] != 3:
            raise ValueError(f"unexpected classifier input shape {list(shape)} in {path}")
        if runner.input["dtype"] != np.float32:
            raise ValueError(f"classifier input must be float32, got {runner.input['dtype']} in {path}")
        self.input_size = int(shape[1])

    def crops(self, image_rgb: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """The (N, S, S, 3) float32 batch the model sees, as cut (see `state_probabilities`)."""
        if not boxes:
            return np.zeros((0, self.input_size, self.input_size, 3), dtype=np.float32)
        return np.stack([crop_face(image_rgb, box, self.input_size) for box in boxes]).astype(np.float32)

    def predict_crops(self, batch: np.ndarray) -> np.ndarray:
        """P(with_mask) per crop, shape (N,)."""
        if len(batch) == 0:
            return np.zeros(0, dtype=np.float32)
        out = self._runner.get().run(np.ascontiguousarray(batch, dtype=np.float32))
        out = out.reshape(len(batch), -1)
        if out.shape[1] == 1:
            return out[:, 0].astype(np.float32)
        if out.shape[1] == 2:
            return out[:, 1].astype(np.float32)
        raise ValueError(f"unexpected classifier output shape {out.shape}")

    def state_probabilities(self, crops: np.ndarray, gains: np.ndarray | None, as_cut: np.ndarray) -> np.ndarray:
        """P(with_mask) behind each reported mask state: `as_cut` (the probabilities of `crops`) in
        ordinary light, the balanced crops' under strongly coloured light (`gains` of `light_gains`).

        Accurate mode's re-scorer keeps the crops as cut for its feature: it was fitted on those.
        """
        return as_cut if gains is None else self.predict_crops(balanced(crops, gains))

    def predict(self, image_rgb: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """P(with_mask) for each box of the image, shape (N,): the reported mask state's."""
        gains = light_gains(image_rgb)
        crops = self.crops(image_rgb, boxes)
        return self.predict_crops(crops if gains is None else balanced(crops, gains))

    def label(self, probability: float) -> str:
        return WITH_MASK if probability >= self.threshold else WITHOUT_MASK
