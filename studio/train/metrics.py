"""Full-reference picture metrics, all computable offline (no learned weights to download).

PSNR and SSIM come from scikit-image. GMSD (gradient magnitude similarity deviation, Xue et al. 2014) is a
perceptual quality index that needs no trained network: lower is better. LPIPS is not used: it needs
ImageNet-pretrained AlexNet/VGG weights, which Studio cannot download.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from skimage.metrics import peak_signal_noise_ratio, structural_similarity


def psnr(reference: np.ndarray, test: np.ndarray, region: np.ndarray | None = None) -> float:
    """PSNR in dB over the whole picture, or over the pixels where `region` is True."""
    if region is not None:
        reference, test = reference[region], test[region]
    mse = np.mean((reference.astype(np.float64) - test.astype(np.float64)) ** 2)
    if mse == 0:
        return float("inf")
    return float(10 * np.log10(255.0**2 / mse)) if region is not None else float(
        peak_signal_noise_ratio(reference, test, data_range=255))


def ssim(reference: np.ndarray, test: np.ndarray) -> float:
    size = min(7, min(reference.shape[:2]) // 2 * 2 - 1)
    return float(structural_similarity(reference, test, channel_axis=2, data_range=255, win_size=size))


def gmsd(reference: np.ndarray, test: np.ndarray) -> float:
    """GMSD on luma: the standard deviation of the gradient magnitude similarity map (0 = identical)."""
    def luma(p):
        p = p.astype(np.float64)
        y = 0.299 * p[..., 0] + 0.587 * p[..., 1] + 0.114 * p[..., 2]
        y = ndimage.uniform_filter(y, size=2)[::2, ::2]  # the method's 2x average downsampling
        return y

    def magnitude(y):
        kx = np.array([[1, 0, -1], [1, 0, -1], [1, 0, -1]]) / 3.0
        return np.hypot(ndimage.convolve(y, kx), ndimage.convolve(y, kx.T))

    c = 170.0
    mr, mt = magnitude(luma(reference)), magnitude(luma(test))
    similarity = (2 * mr * mt + c) / (mr**2 + mt**2 + c)
    return float(similarity.std())
