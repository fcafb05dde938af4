"""Export the Keras classifier to the TFLite file the engine serves, and run such a file.

Contract with the engine: float32 RGB pixels 0..255 of shape (N, S, S, 3) in, (N, 1) sigmoid
probability of ``with_mask`` out; normalisation happens inside the model. Weights and
activations are int8 (calibrated on real training crops), which keeps the file under 4 MB and
the per-crop latency near a millisecond on one CPU thread.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

#: Crops used to calibrate the int8 activation ranges.
CALIBRATION_SAMPLES = 300


def export_tflite(model, calibration: np.ndarray, out_path: Path | str, seed: int = 0) -> Path:
    """Convert with full-integer quantisation (float I/O) and write the file atomically."""
    import tensorflow as tf

    rng = np.random.default_rng(seed)
    pick = rng.permutation(len(calibration))[:CALIBRATION_SAMPLES]
    reps = calibration[pick].astype(np.float32)

    def representative():
        for image in reps:
            yield [image[None]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    data = converter.convert()
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_path.parent, prefix=".tmp-", suffix=".tflite")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, out_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out_path


def sha256_of(path: Path | str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class TFLiteClassifier:
    """Runs an exported model on batches of uint8/float crops (one interpreter, fixed threads)."""

    def __init__(self, path: Path | str, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self.input_size = int(self._interpreter.get_input_details()[0]["shape"][1])
        self._batch = 0

    def predict(self, crops: np.ndarray, batch_size: int = 64) -> np.ndarray:
        """Probability of with_mask for each crop, shape (N,)."""
        out = []
        for start in range(0, len(crops), batch_size):
            batch = np.asarray(crops[start : start + batch_size], np.float32)
            if len(batch) != self._batch:
                self._interpreter.resize_tensor_input(self._input, batch.shape)
                self._interpreter.allocate_tensors()
                self._batch = len(batch)
            self._interpreter.set_tensor(self._input, batch)
            self._interpreter.invoke()
            out.append(self._interpreter.get_tensor(self._output)[:, 0].copy())
        return np.concatenate(out) if out else np.zeros(0, np.float32)
