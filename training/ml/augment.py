"""Batch augmentation for face crops, in tf.data with Keras preprocessing layers.

Besides the usual flips, rotations and lighting changes it imitates what the live detector does
to a face: boxes that are a little off (jittered crops taken from a wider context crop), and
small distant faces (down-scaled then up-scaled again, blurred), which the engine enlarges to
the model's input size.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from detection.engine.crops import CROP_MARGIN
from training.ml.data import CONTEXT_MARGIN

#: Box jitter, relative to the nominal crop side: scale range and centre shift.
JITTER_SCALE = (0.85, 1.15)
JITTER_SHIFT = 0.08
#: Share of a batch that is down-scaled to a small face size, and the smallest such size (px).
DOWNSCALE_PROB = 0.5
MIN_FACE_PX = 10
BLUR_PROB = 0.15


def jitter_crop(context: tf.Tensor, input_size: int, seed: tf.Tensor) -> tf.Tensor:
    """Crop each context image at a randomly shifted and scaled nominal face box."""
    n = tf.shape(context)[0]
    frac = (1 + 2 * CROP_MARGIN) / (1 + 2 * CONTEXT_MARGIN)
    seeds = tf.random.experimental.stateless_split(seed, 3)
    scale = tf.random.stateless_uniform([n], seeds[0], *JITTER_SCALE)
    shift = tf.random.stateless_uniform([n, 2], seeds[1], -JITTER_SHIFT, JITTER_SHIFT) * frac
    half = frac * scale / 2
    cy, cx = 0.5 + shift[:, 0], 0.5 + shift[:, 1]
    boxes = tf.stack([cy - half, cx - half, cy + half, cx + half], axis=1)
    return tf.image.crop_and_resize(tf.cast(context, tf.float32), boxes, tf.range(n), (input_size, input_size))


def degrade(images: tf.Tensor, input_size: int, seed: tf.Tensor) -> tf.Tensor:
    """Down-scale part of the batch to a small face size and back, blur another part."""
    n = tf.shape(images)[0]
    seeds = tf.random.experimental.stateless_split(seed, 3)
    # log-uniform: street photos have far more tiny faces than mid-sized ones
    log_size = tf.random.stateless_uniform(
        [], seeds[0], np.log(MIN_FACE_PX), np.log(max(MIN_FACE_PX + 1, input_size // 2))
    )
    small = tf.cast(tf.round(tf.exp(log_size)), tf.int32)
    low = tf.image.resize(images, (small, small), method="area")
    low = tf.image.resize(low, (input_size, input_size), method="bilinear")
    pick = tf.random.stateless_uniform([n], seeds[1]) < DOWNSCALE_PROB
    images = tf.where(pick[:, None, None, None], low, images)
    blurred = tf.nn.avg_pool2d(images, 3, 1, "SAME")
    pick = tf.random.stateless_uniform([n], seeds[2]) < BLUR_PROB
    return tf.where(pick[:, None, None, None], blurred, images)


def make_keras_augmenter(seed: int) -> keras.Sequential:
    """Keras preprocessing layers: flip, rotation, zoom, brightness, contrast, grayscale."""
    return keras.Sequential(
        [
            keras.layers.RandomFlip("horizontal", seed=seed),
            keras.layers.RandomRotation(0.04, fill_mode="reflect", seed=seed + 1),
            keras.layers.RandomZoom((-0.1, 0.1), fill_mode="reflect", seed=seed + 2),
            keras.layers.RandomBrightness(0.15, value_range=(0, 255), seed=seed + 3),
            keras.layers.RandomContrast(0.25, value_range=(0, 255), seed=seed + 4),
            keras.layers.RandomGrayscale(0.05, seed=seed + 5),
        ],
        name="augment",
    )


def augment_dataset(dataset: tf.data.Dataset, input_size: int, seed: int) -> tf.data.Dataset:
    """Map batches of (context uint8, label) to augmented (float 0..255 crops, label)."""
    augmenter = make_keras_augmenter(seed)

    def _map(step, batch):
        context, labels = batch
        step_seed = tf.stack([tf.cast(seed, tf.int64), step])
        seeds = tf.random.experimental.stateless_split(step_seed, 2)
        images = jitter_crop(context, input_size, seeds[0])
        images = degrade(images, input_size, seeds[1])
        images = augmenter(images, training=True)
        return tf.clip_by_value(images, 0.0, 255.0), labels

    return dataset.enumerate().map(_map, num_parallel_calls=1)
