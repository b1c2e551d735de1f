"""Shared fixtures for the starter-model pipeline: a small data folder from scikit-image's photos (never the
Debian packages), and the two tiny models trained on it once per session."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def one_thread_each(one_torch_thread):
    """Every training test on one torch thread (tests/conftest.py)."""
    yield


@pytest.fixture(scope="session")
def photo_data(tmp_path_factory):
    """scikit-image's four colour photographs, shrunk to a 64 px short side; half held out."""
    from studio.train.data import gather

    folder = tmp_path_factory.mktemp("starter-data")
    gather(folder, use_debian=False, short_side=64, heldout_fraction=0.5)
    return folder


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory, photo_data):
    """{"unconditional": TrainResult, "sr": TrainResult}: the tiny-cpu presets trained on photo_data."""
    import torch

    from studio.train.config import PRESETS
    from studio.train.trainer import train_super_resolution, train_unconditional

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("tiny-runs")
    try:
        return {
            "unconditional": train_unconditional(PRESETS["tiny-cpu"], photo_data, root / "photo", progress=False),
            "sr": train_super_resolution(PRESETS["tiny-cpu-sr"], photo_data, root / "sr", progress=False),
        }
    finally:
        torch.set_num_threads(threads)
