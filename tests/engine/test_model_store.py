"""The model store keeps one model loaded; a load that fails leaves it usable for the next one."""

import pytest
import torch

from studio.core.errors import StudioError
from studio.engine.model_store import ModelStore

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_a_failed_load_never_hands_back_an_empty_model(tiny_model, tmp_path):
    store = ModelStore(device=torch.device("cpu"), dtype=torch.float32)
    first = store.get(tiny_model("sd1"))
    assert store.get(tiny_model("sd1")) is first, "loaded once"
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"not a checkpoint")
    with pytest.raises(StudioError):
        store.get(broken)
    again = store.get(tiny_model("sd1"))
    assert again is not None and again.info.kind == "pipeline"
