"""Train the mask classifier: ImageNet MobileNetV2, head first, then the top blocks; export TFLite.

``train_classifier`` is the one entry point, its choices in one ``TrainOptions``: the
``train_mask_model`` command and the training jobs (Celery) both call it. It reports each epoch
through ``on_epoch`` and polls ``should_stop`` after every batch, so a job can show progress and
be cancelled; a cancelled run raises ``TrainingCancelled`` and writes nothing.

Run it without Django: ``python -m training.ml.train --data DIR --out DIR``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.ml.data import CLASSES, CONTEXT_MARGIN, CropSet, Sample, build_crops, context_size, list_samples

log = logging.getLogger(__name__)

DEFAULT_INPUT_SIZE = 96
DEFAULT_EPOCHS = 14
HEAD_EPOCHS = 15
BATCH_SIZE = 32
SEED = 1234
#: First backbone layer trained in the fine-tuning phase (the last four inverted-residual blocks).
FINETUNE_FROM = "block_13_expand"
HEAD_LR = 1e-3
FINETUNE_LR = 3e-4
#: Epochs re-fitting the sigmoid layer after the backbone weights are snapped to the int8 grid.
REFIT_EPOCHS = 3
DROPOUT = 0.2
#: Fine-tuning's learning rate falls from FINETUNE_LR to MIN_LR along a cosine over all its epochs,
#: and the last epoch's weights are kept: no held-out figure chooses the model.
MIN_LR = 1e-5
MODEL_NAME = "mask_classifier"
#: Copies of each street-photo face pair (annotated box + detector-like box) in the training set.
EXTRA_DEV_REPEAT = 2

OnEpoch = Callable[[int, dict], None]
ShouldStop = Callable[[], bool]


class TrainingCancelled(RuntimeError):
    """``should_stop()`` returned True; nothing was written."""


@dataclass
class TrainResult:
    model_path: Path  # the exported .tflite
    metrics: dict
    card: Path  # the model card (Markdown) beside the model
    keras_path: Path | None = None  # the Keras model, to continue training from later
    history: list[dict] = field(default_factory=list)


ARCHITECTURES = ("mobilenetv2", "tiny")


def tiny_backbone(input_size: int):
    """A five-conv stand-in for MobileNetV2 with its layer names, for tests.

    It has a stem and one inverted-residual block named from ``FINETUNE_FROM`` on, each conv
    followed by its batch norm, so the head, fine-tuning, weight-snap and export phases run
    exactly as for MobileNetV2, but TensorFlow traces and converts it in seconds.
    """
    import keras
    from keras import layers

    pixels = keras.Input((input_size, input_size, 3))
    x = layers.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="Conv1")(pixels)
    x = layers.ReLU(6.0)(layers.BatchNormalization(name="bn_Conv1")(x))
    x = layers.Conv2D(16, 1, use_bias=False, name=FINETUNE_FROM)(x)
    x = layers.ReLU(6.0)(layers.BatchNormalization(name=f"{FINETUNE_FROM}_BN")(x))
    x = layers.DepthwiseConv2D(3, strides=2, padding="same", use_bias=False, name="block_13_depthwise")(x)
    x = layers.ReLU(6.0)(layers.BatchNormalization(name="block_13_depthwise_BN")(x))
    x = layers.Conv2D(16, 1, use_bias=False, name="block_13_project")(x)
    x = layers.BatchNormalization(name="block_13_project_BN")(x)
    return keras.Model(pixels, x, name="tiny_backbone")


def build_model(input_size: int, backbone=None, architecture: str = "mobilenetv2"):
    """Pixels 0..255 -> Rescaling to [-1, 1] -> backbone -> pooled features -> sigmoid.

    ``backbone`` None means random initial weights (tests, or no ImageNet weights available).
    """
    import keras

    if architecture not in ARCHITECTURES:
        raise ValueError(f"unknown architecture {architecture!r}; choose one of {ARCHITECTURES}")
    if backbone is None and architecture == "tiny":
        backbone = tiny_backbone(input_size)
    elif backbone is None:
        backbone = keras.applications.MobileNetV2(
            input_shape=(input_size, input_size, 3), alpha=1.0, include_top=False, weights=None
        )
    backbone.trainable = False
    pixels = keras.Input((input_size, input_size, 3), name="pixels")
    x = keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="to_unit_range")(pixels)
    x = backbone(x, training=False)  # BN stays in inference mode, also while fine-tuning
    x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    x = keras.layers.Dropout(DROPOUT, name="dropout")(x)
    out = keras.layers.Dense(1, activation="sigmoid", name="with_mask")(x)
    return keras.Model(pixels, out, name=MODEL_NAME)


def _backbone_of(model):
    import keras

    return next(layer for layer in model.layers if isinstance(layer, keras.Model))


@dataclass
class _Progress:
    """Where every phase reports its epochs and asks whether to stop, and the history they share."""

    total: int  # epochs of all phases together
    on_epoch: OnEpoch | None = None
    should_stop: ShouldStop | None = None
    history: list[dict] = field(default_factory=list)

    def callback(self, phase: str, offset: int):
        """A Keras callback numbering the phase's epochs from `offset` and stopping when asked."""
        import keras

        progress = self

        class Hooks(keras.callbacks.Callback):
            cancelled = False

            def on_train_batch_end(self, batch, logs=None):
                if progress.should_stop is not None and progress.should_stop():
                    self.cancelled = True
                    self.model.stop_training = True

            def on_epoch_end(self, epoch, logs=None):
                entry = {k: round(float(v), 5) for k, v in (logs or {}).items()}
                entry.update(phase=phase, epoch=offset + epoch + 1, epochs=progress.total)
                progress.history.append(entry)
                if progress.on_epoch is not None:
                    progress.on_epoch(offset + epoch + 1, entry)

        return Hooks()


def _class_weights(labels: np.ndarray) -> dict[int, float]:
    counts = np.bincount(labels, minlength=2).astype(float)
    return {k: float(len(labels) / (2 * counts[k])) for k in (0, 1)}


@dataclass(frozen=True)
class TrainOptions:
    """How a classifier is trained; the defaults train the committed model.

    ``initial_model``: a ``.keras`` file from an earlier run to fine-tune (skips the head phase).
    ``imagenet``: start from the imported ImageNet weights when they are available.
    ``dev_dir``: a ``mask-detection-dev``-style folder to also score ground-truth face crops
    (all photos, and the held-out odd half).
    ``extra_dev_half``: a ``mask-detection-dev``-style folder whose EVEN half of photos adds its
    with/without-mask faces to the training split (street faces; the odd half stays held out),
    each face ``2 * extra_dev_repeat`` times.
    ``synthetic``: add the synthetic faces of ``training.ml.synthetic`` (coloured and printed masks,
    hands, beards and objects over the mouth, turned heads) drawn on the unmasked training faces.
    ``architecture``: ``"mobilenetv2"``, or ``"tiny"`` (random weights) for tests that must run
    the whole path in seconds.
    ``command``: how the run was started, for the model card (default: this process's arguments).
    """

    epochs: int = DEFAULT_EPOCHS
    input_size: int = DEFAULT_INPUT_SIZE
    initial_model: str | Path | None = None
    imagenet: bool = True
    head_epochs: int = HEAD_EPOCHS
    batch_size: int = BATCH_SIZE
    seed: int = SEED
    architecture: str = "mobilenetv2"
    dev_dir: str | Path | None = None
    extra_dev_half: str | Path | None = None
    extra_dev_repeat: int = EXTRA_DEV_REPEAT
    synthetic: bool = True
    command: str | None = None
    verbose: int = 0


@dataclass
class _Crops:
    """The listed samples and the crops cut from them (street faces added to train when asked)."""

    train: list[Sample]
    val: list[Sample]
    train_set: CropSet
    val_set: CropSet
    face_found_rate: float
    extra_data: dict | None = None
    synthetic: dict | None = None

    @property
    def listed(self) -> int:
        return len(self.train) + len(self.val)


def train_classifier(
    data: str | Path | Sequence[tuple[str | Path, str | int]],
    out_dir: str | Path,
    options: TrainOptions = TrainOptions(),
    *,
    on_epoch: OnEpoch | None = None,
    should_stop: ShouldStop | None = None,
) -> TrainResult:
    """Train, evaluate and export a classifier into ``out_dir``; returns paths and metrics.

    ``data``: a data folder (see ``training.ml.data``) or ``(path, label)`` pairs.
    """
    import keras

    started = time.time()
    if options.epochs < 0 or options.head_epochs < 0:
        raise ValueError("epochs must be >= 0")
    keras.utils.set_random_seed(options.seed)
    crops = _cut_crops(data, options)
    refit_epochs = REFIT_EPOCHS if options.epochs else 0
    total = (0 if options.initial_model else options.head_epochs) + options.epochs + refit_epochs
    progress = _Progress(total, on_epoch, should_stop)
    model, weights_source = _starting_model(crops, options, progress)
    class_weight = _class_weights(crops.train_set.labels)
    float_val = _fine_tune(model, crops, options, progress, class_weight) if options.epochs else None

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=out_dir, prefix=".staging-"))
    try:
        tflite_tmp, metrics = _export_and_score(model, crops, options, float_val, staging)
        keras_tmp = staging / f"{MODEL_NAME}.keras"
        model.save(keras_tmp)
        params = {
            "input_size": options.input_size,
            "backbone": _backbone_of(model).name,
            "epochs_finetune": options.epochs,
            "epochs_head": 0 if options.initial_model else options.head_epochs,
            "batch_size": options.batch_size,
            "seed": options.seed,
            "head_lr": HEAD_LR,
            "finetune_lr": FINETUNE_LR,
            "finetune_from": FINETUNE_FROM,
            "dropout": DROPOUT,
            "schedule": f"learning rate falling along a cosine to {MIN_LR} over every epoch, the last"
            " epoch's weights kept (no early stopping: the val split only reports)",
            "class_weight": {CLASSES[k]: round(v, 4) for k, v in class_weight.items()},
            "initial_weights": weights_source,
            "data_source": str(data) if isinstance(data, (str, Path)) else f"{crops.listed} listed images",
            "training_seconds": round(time.time() - started, 1),
        }
        staged = _write_reports(staging, tflite_tmp, metrics, params, progress.history, options.command)
        for item in (tflite_tmp, keras_tmp, *staged):
            os.replace(item, out_dir / item.name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return TrainResult(
        model_path=out_dir / f"{MODEL_NAME}.tflite",
        metrics=metrics,
        card=out_dir / f"{MODEL_NAME}.md",
        keras_path=out_dir / f"{MODEL_NAME}.keras",
        history=progress.history,
    )


def _cut_crops(data, options: TrainOptions) -> _Crops:
    """List the samples by split and cut their crops (train with context for augmentation)."""
    samples = list_samples(data)
    train = [s for s in samples if s.split == "train"]
    val = [s for s in samples if s.split == "val"]
    log.info("data: %d train, %d val images", len(train), len(val))
    train_set = build_crops(train, options.input_size, with_context=True)
    val_set = build_crops(val, options.input_size, with_context=False)
    face_found_rate = float(np.concatenate([train_set.face_found, val_set.face_found]).mean())
    crops = _Crops(train, val, train_set, val_set, face_found_rate)
    if options.extra_dev_half is not None:
        crops.train_set, crops.extra_data = _add_street_faces(
            train_set, options.extra_dev_half, options.input_size, options.extra_dev_repeat
        )
        added = crops.extra_data["crops"]
        log.info("added %s street-face crops from the even half of %s", added, options.extra_dev_half)
    if options.synthetic:
        from training.ml.synthetic import synthetic_faces

        drawn, crops.synthetic = synthetic_faces(train, options.input_size, options.seed)
        crops.train_set = _concat(crops.train_set, drawn)
        log.info("added %d synthetic face crops: %s", len(drawn.labels), crops.synthetic)
    return crops


def _concat(first: CropSet, second: CropSet) -> CropSet:
    """Two training crop sets (both with context crops) as one."""
    assert first.context is not None and second.context is not None
    return CropSet(
        crops=np.concatenate([first.crops, second.crops]),
        context=np.concatenate([first.context, second.context]),
        labels=np.concatenate([first.labels, second.labels]),
        face_found=np.concatenate([first.face_found, second.face_found]),
        paths=first.paths + second.paths,
    )


def _starting_model(crops: _Crops, options: TrainOptions, progress: _Progress):
    """The model fine-tuning starts from, and where its weights came from: an earlier run's
    Keras model, or a new one (ImageNet backbone when available) whose head is trained first."""
    import keras

    from training.ml.imagenet_import import imported_backbone

    if options.initial_model:
        model = keras.models.load_model(options.initial_model)
        if tuple(model.input_shape[1:3]) != (options.input_size, options.input_size):
            raise ValueError(f"{options.initial_model} takes {model.input_shape[1]} px crops, not {options.input_size}")
        return model, f"fine-tuned from {Path(options.initial_model).name}"
    imagenet = options.imagenet and options.architecture == "mobilenetv2"
    backbone = imported_backbone(options.input_size) if imagenet else None
    model = build_model(options.input_size, backbone, options.architecture)
    _train_head(model, crops.train_set, crops.val_set, options.head_epochs, options.batch_size, progress)
    return model, "random" if backbone is None else "ImageNet (imported from TFLite)"


def _fine_tune(model, crops: _Crops, options: TrainOptions, progress: _Progress, class_weight) -> dict:
    """Train the top backbone blocks, snap the weights to the int8 grid and re-fit the sigmoid
    layer; returns the validation metrics of the float model before the snap."""
    import keras
    import tensorflow as tf

    from training.ml.augment import augment_dataset
    from training.ml.evaluate import classification_metrics

    train_set, val_set = crops.train_set, crops.val_set
    backbone = _backbone_of(model)
    backbone.trainable = True
    trainable = False
    for layer in backbone.layers:
        trainable = trainable or layer.name == FINETUNE_FROM
        # BN holds the imported (folded) scales and biases: keep them fixed
        layer.trainable = trainable and not isinstance(layer, keras.layers.BatchNormalization)
    steps = options.epochs * -(-len(train_set.labels) // options.batch_size)
    schedule = keras.optimizers.schedules.CosineDecay(FINETUNE_LR, steps, alpha=MIN_LR / FINETUNE_LR)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="binary_crossentropy", metrics=["accuracy"])
    train_ds = (
        tf.data.Dataset.from_tensor_slices((train_set.context, train_set.labels))
        .shuffle(len(train_set.labels), seed=options.seed, reshuffle_each_iteration=True)
        .batch(options.batch_size)
    )
    train_ds = augment_dataset(train_ds, options.input_size, options.seed).prefetch(2)
    val_ds = tf.data.Dataset.from_tensor_slices((val_set.crops.astype(np.float32), val_set.labels)).batch(128)
    hooks = progress.callback("finetune", progress.total - options.epochs - REFIT_EPOCHS)
    model.fit(
        train_ds,
        validation_data=val_ds,
        epochs=options.epochs,
        class_weight=class_weight,
        callbacks=[hooks],  # the val figures are only recorded: nothing watches them
        verbose=options.verbose,
    )
    if hooks.cancelled:
        raise TrainingCancelled("training cancelled")
    float_val = classification_metrics(
        val_set.labels, model.predict(val_set.crops.astype(np.float32), batch_size=128, verbose=0)[:, 0]
    )
    snap_weights_to_int8_grid(model)
    _train_head(
        model,
        train_set,
        val_set,
        REFIT_EPOCHS,
        options.batch_size,
        progress,
        phase="refit",
        offset=progress.total - REFIT_EPOCHS,
        lr=FINETUNE_LR,
    )
    return float_val


def _export_and_score(model, crops: _Crops, options: TrainOptions, float_val: dict | None, staging: Path):
    """Export the TFLite model into `staging` and score it and the Keras model; returns the
    exported file and the metrics."""
    from training.ml.evaluate import classification_metrics
    from training.ml.export import TFLiteClassifier, export_tflite

    val_set = crops.val_set
    keras_probs = model.predict(val_set.crops.astype(np.float32), batch_size=128, verbose=0)[:, 0]
    tflite_tmp = export_tflite(model, crops.train_set.crops, staging / f"{MODEL_NAME}.tflite", options.seed)
    tflite_probs = TFLiteClassifier(tflite_tmp).predict(val_set.crops)
    metrics = {
        "val_keras": classification_metrics(val_set.labels, keras_probs),
        "val_tflite": classification_metrics(val_set.labels, tflite_probs),
        "val_keras_before_weight_snap": float_val,
        "data": {
            "train": _counts(crops.train),
            "val": _counts(crops.val),
            "face_found_rate": round(crops.face_found_rate, 4),
            "extra_dev_half": crops.extra_data,
            "synthetic": crops.synthetic,
        },
    }
    metrics["tflite_minus_keras_accuracy_points"] = round(
        100 * (metrics["val_tflite"]["accuracy"] - metrics["val_keras"]["accuracy"]), 3
    )
    if options.dev_dir is not None:
        from training.ml.devset import evaluate_dev_set

        exported = TFLiteClassifier(tflite_tmp)
        metrics["dev_ground_truth_crops"] = evaluate_dev_set(exported, options.dev_dir)
        metrics["dev_ground_truth_crops_odd_half"] = evaluate_dev_set(exported, options.dev_dir, half="odd")
    return tflite_tmp, metrics


def _write_reports(
    staging: Path, tflite: Path, metrics: dict, params: dict, history: list[dict], command: str | None
) -> tuple[Path, Path]:
    """metrics.json and the model card beside the exported model, in `staging`."""
    from training.ml.card import write_card
    from training.ml.export import sha256_of

    figures = staging / "metrics.json"
    figures.write_text(json.dumps({"metrics": metrics, "params": params, "history": history}, indent=2))
    card = write_card(
        staging / f"{MODEL_NAME}.md",
        sha256=sha256_of(tflite),
        size_bytes=tflite.stat().st_size,
        metrics=metrics,
        params=params,
        history=history,
        command=command or " ".join(sys.argv),
    )
    return figures, card


def snap_weights_to_int8_grid(model) -> None:
    """Round every backbone conv kernel, BN folded in, to the per-channel int8 grid of the export.

    Fine-tuning moves many weights by less than one int8 step; the TFLite export would round
    those moves away and lose most of what fine-tuning gained. Rounding here, then re-fitting
    the sigmoid layer, makes the Keras model and the exported int8 model nearly the same function.
    """
    import keras

    layers = _backbone_of(model).layers
    for conv, bn in zip(layers, layers[1:], strict=False):
        if not isinstance(conv, (keras.layers.Conv2D, keras.layers.DepthwiseConv2D)):
            continue
        if not isinstance(bn, keras.layers.BatchNormalization):
            continue
        gamma, _, _, var = (np.asarray(w, np.float64) for w in bn.get_weights())
        multiplier = gamma / np.sqrt(var + bn.epsilon)
        multiplier = np.where(multiplier == 0, 1.0, multiplier)
        kernel = np.asarray(conv.get_weights()[0], np.float64)
        out_axis = 2 if isinstance(conv, keras.layers.DepthwiseConv2D) else 3
        shape = [1, 1, 1, 1]
        shape[out_axis] = -1
        folded = kernel * multiplier.reshape(shape)
        other = tuple(a for a in range(4) if a != out_axis)
        step = np.abs(folded).max(axis=other, keepdims=True) / 127.0
        step = np.where(step == 0, 1.0, step)
        snapped = np.round(folded / step) * step / multiplier.reshape(shape)
        conv.set_weights([snapped.astype(np.float32), *conv.get_weights()[1:]])


def _add_street_faces(train_set: CropSet, dev_dir: str | Path, input_size: int, repeat: int):
    """The training crops plus the even half's street faces, ``repeat`` times; and what was added."""
    from training.ml.devset import dev_stems, dev_training_faces

    if repeat < 1:
        raise ValueError("extra_dev_repeat must be >= 1")
    crops, context, labels = dev_training_faces(
        dev_dir, input_size, context_size(input_size), CONTEXT_MARGIN, half="even"
    )
    street = CropSet(
        crops=np.concatenate([crops] * repeat),
        context=np.concatenate([context] * repeat),
        labels=np.concatenate([labels] * repeat),
        face_found=np.ones(len(labels) * repeat, bool),
        paths=[f"{dev_dir} (even half)"] * (len(labels) * repeat),
    )
    merged = _concat(train_set, street)
    info = {
        "dir": str(dev_dir),
        "half": "even (sorted(stems)[0::2])",
        "photos": len(dev_stems(dev_dir, "even")),
        "faces": {name: int((labels == k).sum() // 2) for k, name in enumerate(CLASSES)},
        "copies_per_face": 2 * repeat,
        "crops": len(labels) * repeat,
    }
    return merged, info


def _counts(samples: list[Sample]) -> dict[str, int]:
    return {name: sum(1 for s in samples if s.label == k) for k, name in enumerate(CLASSES)}


def _train_head(
    model,
    train_set: CropSet,
    val_set: CropSet,
    epochs: int,
    batch_size: int,
    progress: _Progress,
    *,
    phase: str = "head",
    offset: int = 0,
    lr: float = HEAD_LR,
) -> None:
    """Fit the sigmoid layer on pooled features of the frozen backbone, computed once.

    Running the frozen backbone once instead of every epoch makes this phase take seconds.
    """
    import keras

    if epochs == 0:
        return
    pooled = keras.Model(model.input, model.get_layer("pool").output)
    train_x = pooled.predict(train_set.crops.astype(np.float32), batch_size=128, verbose=0)
    val_x = pooled.predict(val_set.crops.astype(np.float32), batch_size=128, verbose=0)
    features = keras.Input(train_x.shape[1:])
    x = keras.layers.Dropout(DROPOUT)(features)
    dense = model.get_layer("with_mask")
    head = keras.Model(features, dense(x))
    head.compile(optimizer=keras.optimizers.Adam(lr), loss="binary_crossentropy", metrics=["accuracy"])
    hooks = progress.callback(phase, offset)
    head.fit(
        train_x,
        train_set.labels,
        validation_data=(val_x, val_set.labels),
        epochs=epochs,
        batch_size=batch_size,
        class_weight=_class_weights(train_set.labels),
        callbacks=[hooks],
        verbose=0,
    )
    if hooks.cancelled:
        raise TrainingCancelled("training cancelled")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--out", default="var/models/mask_classifier")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS)
    parser.add_argument("--input-size", type=int, default=DEFAULT_INPUT_SIZE)
    parser.add_argument("--initial-model")
    parser.add_argument("--dev-dir")
    parser.add_argument("--no-imagenet", action="store_true")
    parser.add_argument("--extra-dev-half", help="add the street faces of this dev set's even half to training")
    parser.add_argument("--extra-dev-repeat", type=int, default=EXTRA_DEV_REPEAT)
    parser.add_argument("--no-synthetic", action="store_true", help="train without the synthetic faces")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    options = TrainOptions(
        epochs=args.epochs,
        input_size=args.input_size,
        initial_model=args.initial_model,
        dev_dir=args.dev_dir,
        imagenet=not args.no_imagenet,
        extra_dev_half=args.extra_dev_half,
        extra_dev_repeat=args.extra_dev_repeat,
        synthetic=not args.no_synthetic,
        command="python -m training.ml.train " + " ".join(argv or sys.argv[1:]),
        verbose=1,
    )
    result = train_classifier(
        args.data, args.out, options, on_epoch=lambda e, logs: print(f"epoch {e}: {logs}", flush=True)
    )
    print(json.dumps({"model": str(result.model_path), "val": result.metrics["val_tflite"]}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
