"""Checkpoints load offline through the real loaders, in both layouts, to exactly the weights saved."""

import pickle

import pytest
import torch

from studio.core.errors import ModelError
from studio.engine.loading import load_model
from tests.fixtures.tiny_models import FLAVOURS, build_components

CPU = torch.device("cpu")
FAMILY = {"sd1": "sd15", "sd1_inpaint": "sd15_inpaint", "sd2": "sd2_v", "sdxl": "sdxl", "sdxl_inpaint": "sdxl_inpaint"}


def assert_same_weights(loaded, reference):
    for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
        if name not in reference:
            assert name not in loaded.components
            continue
        expected, actual = reference[name].state_dict(), loaded.components[name].state_dict()
        assert set(expected) == set(actual), name
        for key, tensor in expected.items():
            assert torch.equal(tensor, actual[key]), f"{name}.{key}"


@pytest.mark.parametrize("flavour", FLAVOURS)
@pytest.mark.parametrize("layout", ["single_file", "diffusers"])
def test_every_family_loads_exactly_from_both_layouts(tiny_model, flavour, layout):
    loaded = load_model(tiny_model(flavour, layout), CPU, torch.float32)
    family = FAMILY[flavour] if layout == "single_file" else FAMILY[flavour].replace("sd2_v", "sd2")
    assert loaded.family == family
    assert_same_weights(loaded, build_components(flavour))
    tokens = loaded.components["tokenizer"]("a photo of a cat").input_ids
    assert tokens == [49406, 320, 1125, 539, 320, 2368, 49407]


def test_sd2_and_sdxl_second_tokenizer_pad_with_exclamation_mark(tiny_model):
    sd2 = load_model(tiny_model("sd2"), CPU, torch.float32)
    assert sd2.components["tokenizer"].pad_token == "!"
    xl = load_model(tiny_model("sdxl"), CPU, torch.float32)
    assert xl.components["tokenizer"].pad_token == "<|endoftext|>" and xl.components["tokenizer_2"].pad_token == "!"


def test_half_precision_load(tiny_model):
    loaded = load_model(tiny_model("sd1"), CPU, torch.bfloat16)
    assert next(loaded.components["unet"].parameters()).dtype == torch.bfloat16


def test_truncated_and_missing_files_are_clear_errors(tiny_model, tmp_path):
    data = tiny_model("sd1").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelError, match="damaged or truncated"):
        load_model(tmp_path / "cut.safetensors", CPU, torch.float32)
    with pytest.raises(ModelError, match="no such file"):
        load_model(tmp_path / "absent.safetensors", CPU, torch.float32)


def test_a_checkpoint_missing_a_tensor_names_the_problem(tiny_model, tmp_path):
    from safetensors.torch import load_file, save_file

    state = load_file(str(tiny_model("sd1")))
    del state["model.diffusion_model.out.2.weight"]
    save_file(state, str(tmp_path / "partial.safetensors"))
    with pytest.raises(ModelError, match="tensor is missing|does not match"):
        load_model(tmp_path / "partial.safetensors", CPU, torch.float32)


def test_pickles_are_refused_without_consent_and_load_weights_only_with_it(tiny_model, tmp_path):
    from safetensors.torch import load_file

    torch.save({"state_dict": load_file(str(tiny_model("sd1")))}, tmp_path / "model.ckpt")
    with pytest.raises(ModelError, match="refused by default"):
        load_model(tmp_path / "model.ckpt", CPU, torch.float32)
    loaded = load_model(tmp_path / "model.ckpt", CPU, torch.float32, allow_pickle=True)
    assert loaded.family == "sd15"
    assert_same_weights(loaded, build_components("sd1"))


class WritesAFile:
    """Unpickling this would create a file: proof that code ran."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_a_pickle_carrying_code_never_runs_it(tmp_path):
    target = tmp_path / "pwned.txt"
    with open(tmp_path / "evil.ckpt", "wb") as stream:
        pickle.dump({"state_dict": {"x": WritesAFile(str(target))}}, stream)
    with pytest.raises(ModelError, match="refused"):
        load_model(tmp_path / "evil.ckpt", CPU, torch.float32, allow_pickle=True)
    assert not target.exists()
    with pytest.raises(ModelError):
        load_model(tmp_path / "evil.ckpt", CPU, torch.float32)
    assert not target.exists()
