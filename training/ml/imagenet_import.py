"""Load ImageNet MobileNetV2 weights from a quantised ``.tflite`` file into Keras.

Keras cannot download ``weights='imagenet'`` here (no internet), but the shared data holds
ImageNet MobileNetV2 models as TensorFlow Lite files. Their convolution tensors are quantised
(per tensor or per channel) and their batch norms are folded into the conv weights and biases.
We dequantise every conv / depthwise / logits tensor, in graph order, into the matching layer
of ``keras.applications.MobileNetV2(weights=None)`` and turn each BatchNormalization layer
into a fixed per-channel scale plus the folded bias, so the Keras model computes what the TFLite model
computes (up to the quantisation of its activations). Each folded kernel is stored at unit
scale with its per-channel scale moved into the BN's gamma (the same function), so fine-tuning
with one learning rate treats all channels alike.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)

#: The shared folder of ImageNet ``.tflite`` models (see its README).
IMAGENET_DIR = Path("/work/shared/datasets/imagenet-pretrained")
#: Per-channel int8 weights (TF2 post-training quantisation): the most faithful source.
DEFAULT_TFLITE = IMAGENET_DIR / "tf2_mobilenet_v2_1.0_224_ptq.tflite"
#: Where the imported Keras weights are cached (``var/`` is git-ignored).
DEFAULT_CACHE = Path(__file__).resolve().parents[2] / "var" / "imagenet" / "mobilenet_v2_imported.weights.h5"
#: The TFLite models have 1001 classes (index 0 = background).
NUM_CLASSES = 1001

_WEIGHT_OPS = {"CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"}


class WeightImportError(RuntimeError):
    """The TFLite file does not map onto Keras MobileNetV2."""


def _dequantize(interpreter, detail: dict) -> np.ndarray:
    """Float values of a constant tensor, honouring per-channel scales and zero points."""
    raw = interpreter.get_tensor(detail["index"])
    if raw.dtype in (np.float32, np.float16):
        return raw.astype(np.float32)
    q = detail["quantization_parameters"]
    scales = np.asarray(q["scales"], dtype=np.float64)
    zero_points = np.asarray(q["zero_points"], dtype=np.float64)
    if scales.size == 0:
        raise WeightImportError(f"tensor {detail['name']!r} is integer but has no quantisation scale")
    values = raw.astype(np.float64)
    if scales.size > 1:
        shape = [1] * raw.ndim
        shape[q["quantized_dimension"]] = scales.size
        scales = scales.reshape(shape)
        zero_points = zero_points.reshape(shape) if zero_points.size > 1 else zero_points
    return ((values - zero_points) * scales).astype(np.float32)


def read_tflite_weights(tflite_path: Path | str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(op name, float kernel, float bias) of every weighted op, in graph order."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(tflite_path))
    details = {d["index"]: d for d in interpreter.get_tensor_details()}
    weights = []
    for op in interpreter._get_ops_details():
        if op["op_name"] not in _WEIGHT_OPS:
            continue
        _, kernel_idx, bias_idx = (int(i) for i in op["inputs"][:3])
        kernel = _dequantize(interpreter, details[kernel_idx])
        bias = _dequantize(interpreter, details[bias_idx])
        weights.append((op["op_name"], kernel, bias))
    return weights


def _to_keras_kernel(op_name: str, kernel: np.ndarray, layer) -> np.ndarray:
    """TFLite layouts -> Keras layouts (conv OHWI -> HWIO, depthwise 1HWC -> HWC1, FC OI -> IO)."""
    if op_name == "DEPTHWISE_CONV_2D":
        out = kernel[0][..., np.newaxis]
    elif op_name == "CONV_2D":
        out = kernel.transpose(1, 2, 3, 0)
    else:
        out = kernel.T
    target = tuple(layer.kernel.shape)
    if out.shape != target:
        if int(np.prod(out.shape)) == int(np.prod(target)) and layer.__class__.__name__ == "Dense":
            out = out.reshape(target)  # logits stored as a 1x1 conv
        else:
            raise WeightImportError(f"layer {layer.name}: TFLite {op_name} kernel {out.shape} != Keras {target}")
    return out


def build_imported_mobilenet_v2(
    tflite_path: Path | str = DEFAULT_TFLITE, input_shape=(224, 224, 3), include_top: bool = True
):
    """A Keras MobileNetV2 (alpha 1.0) carrying the TFLite model's ImageNet weights.

    With ``include_top`` the model ends in the 1001-way softmax of the TFLite model; without it,
    in the 1280-channel feature map. Input: pixels already scaled to [-1, 1].
    """
    import keras

    top = {"classes": NUM_CLASSES, "classifier_activation": "softmax"} if include_top else {}
    model = keras.applications.MobileNetV2(
        input_shape=input_shape, alpha=1.0, include_top=include_top, weights=None, **top
    )
    weighted = [layer for layer in model.layers if layer.__class__.__name__ in ("Conv2D", "DepthwiseConv2D", "Dense")]
    tensors = read_tflite_weights(tflite_path)
    if not include_top:
        tensors = tensors[: len(weighted)]
    if len(tensors) != len(weighted):
        raise WeightImportError(f"{tflite_path}: {len(tensors)} weighted ops but Keras MobileNetV2 has {len(weighted)}")
    layer_index = {layer.name: i for i, layer in enumerate(model.layers)}
    for (op_name, kernel, bias), layer in zip(tensors, weighted, strict=True):
        keras_kernel = _to_keras_kernel(op_name, kernel, layer)
        if layer.__class__.__name__ == "Dense":
            layer.set_weights([keras_kernel, bias])
            continue
        bn = model.layers[layer_index[layer.name] + 1]
        if bn.__class__.__name__ != "BatchNormalization":
            raise WeightImportError(f"layer {layer.name} is not followed by a BatchNormalization")
        if bias.shape != (bn.gamma.shape[0],):
            raise WeightImportError(f"layer {bn.name}: bias {bias.shape} != {tuple(bn.gamma.shape)}")
        channels = bias.shape[0]
        # The folded kernels have wildly different scales per channel; a unit-scale kernel with
        # the scale in gamma computes the same function but lets fine-tuning move every channel
        # by a similar relative step. MobileNetV2 convs have no bias: it goes into beta.
        out_axis = 2 if op_name == "DEPTHWISE_CONV_2D" else 3
        other = tuple(a for a in range(4) if a != out_axis)
        scale = np.abs(keras_kernel).max(axis=other)
        scale = np.where(scale > 0, scale, 1.0).astype(np.float32)
        shape = [1, 1, 1, 1]
        shape[out_axis] = channels
        layer.set_weights([keras_kernel / scale.reshape(shape)])
        # BN in inference mode: (x - 0) / sqrt((1 - eps) + eps) * scale + folded_bias
        bn.set_weights(
            [
                scale,
                bias,
                np.zeros(channels, np.float32),
                np.full(channels, 1.0 - bn.epsilon, np.float32),
            ]
        )
    return model


def imported_backbone(
    input_size: int,
    cache: Path | str = DEFAULT_CACHE,
    tflite_path: Path | str = DEFAULT_TFLITE,
):
    """Headless ImageNet MobileNetV2 at ``input_size``; imports once and caches under ``var/``.

    Returns None when neither the cache nor the TFLite source exists (a fresh machine), so
    callers can fall back to random weights explicitly.
    """
    import keras

    cache = Path(cache)
    if not cache.exists():
        if not Path(tflite_path).exists():
            return None
        full = build_imported_mobilenet_v2(tflite_path, include_top=False)
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_name(cache.stem + ".tmp.weights.h5")
        full.save_weights(tmp)
        tmp.replace(cache)
        log.info("imported ImageNet weights from %s into %s", tflite_path, cache)
    backbone = keras.applications.MobileNetV2(
        input_shape=(input_size, input_size, 3), alpha=1.0, include_top=False, weights=None
    )
    backbone.load_weights(cache)
    return backbone
