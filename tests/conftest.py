"""Test-wide settings (no display, no network, user folders inside the test's temporary space) and the
tiny real models every layer's tests share."""

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["STUDIO_DEVICE"] = "cpu"
os.environ["STUDIO_DTYPE"] = "float32"
_HOME = tempfile.mkdtemp(prefix="studio-tests-")
os.environ["STUDIO_CACHE_DIR"] = os.path.join(_HOME, "cache")
os.environ["XDG_CONFIG_HOME"] = os.path.join(_HOME, "config")
os.environ["XDG_CACHE_HOME"] = os.path.join(_HOME, "cache")
os.environ["XDG_DATA_HOME"] = os.path.join(_HOME, "data")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """tiny_model(flavour, layout="single_file" | "diffusers") -> path, built on first use.
    Flavours: sd1, sd1_inpaint, sd2, sdxl, sdxl_inpaint, "upscaler" (a ×4 upscaler folder), and
    "controlnet_sd1", "controlnet_sdxl" (ControlNets for the tiny sd1/sdxl models), and "starter_photo",
    "starter_sr" (Studio's own starter models, random weights; always folders)."""
    from tests.fixtures.tiny_models import save_diffusers_folder, save_single_file
    from tests.fixtures.tiny_controlnet import save_controlnet_folder, save_controlnet_single_file
    from tests.fixtures.tiny_starter import save_starter_folder
    from tests.fixtures.tiny_upscaler import save_upscaler_folder

    root = tmp_path_factory.mktemp("tiny-models")
    made: dict[tuple[str, str], Path] = {}

    def get(flavour: str, layout: str = "single_file") -> Path:
        if (flavour, layout) not in made:
            if flavour == "upscaler":
                made[flavour, layout] = save_upscaler_folder(root / "upscaler")
            elif flavour.startswith("starter_"):
                made[flavour, layout] = save_starter_folder(flavour.removeprefix("starter_"), root / flavour)
            elif flavour.startswith("controlnet_"):  # controlnet_sd1, controlnet_sdxl
                base = flavour.removeprefix("controlnet_")
                save = save_controlnet_single_file if layout == "single_file" else save_controlnet_folder
                made[flavour, layout] = save(base, root / (f"{flavour}.safetensors" if layout == "single_file" else flavour))
            elif layout == "single_file":
                made[flavour, layout] = save_single_file(flavour, root / f"{flavour}.safetensors")
            else:
                made[flavour, layout] = save_diffusers_folder(flavour, root / flavour)
        return made[flavour, layout]

    return get


@pytest.fixture
def one_torch_thread():
    """Tiny models run fastest on one thread, and the test machine's cores are shared (a busy core stalls
    a multi-threaded kernel)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def store():
    import torch

    from studio.engine.model_store import ModelStore

    return ModelStore(device=torch.device("cpu"), dtype=torch.float32)
