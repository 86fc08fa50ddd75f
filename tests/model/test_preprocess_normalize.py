"""Inputs with DeepLabCut's very bits: its boxes depend on them (a crop's corners are whole
pixels, so a box ~3e-3 px off moved a crop by a pixel)."""

from __future__ import annotations

import numpy as np

from napari_superanimal.model.preprocess import IMAGENET_MEAN, IMAGENET_STD, normalize


def test_normalize_has_albumentations_float32_arithmetic():
    frames = np.random.default_rng(0).integers(0, 256, (2, 9, 11, 3), dtype=np.uint8)
    mean = np.array(IMAGENET_MEAN, np.float32) * np.float32(255)
    inverse = np.reciprocal(np.array(IMAGENET_STD, np.float32) * np.float32(255))
    expected = ((frames.astype(np.float32) - mean) * inverse).transpose(0, 3, 1, 2)
    out = normalize(frames)
    assert out.dtype.is_floating_point and np.array_equal(out.numpy(), expected)
    # the textbook order differs in the last bits: this test can tell them apart
    textbook = ((frames / np.float32(255)).astype(np.float32) - np.float32(IMAGENET_MEAN)) / (
        np.float32(IMAGENET_STD)
    )
    textbook = textbook.astype(np.float32).transpose(0, 3, 1, 2)
    assert not np.array_equal(textbook, expected)
    # networks trained in a project keep the order they were trained and measured with
    np.testing.assert_allclose(normalize(frames, deeplabcut=False).numpy(), textbook, atol=1e-6)
