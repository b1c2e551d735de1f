"""Family detection from tensor names and shapes, on headers alone (files hold 1-element stand-ins)."""

import json

import numpy as np
import pytest
from safetensors.numpy import save_file

from studio.core.checkpoints import family_from_shapes, inspect, scan_folder

UNET_IN = "model.diffusion_model.input_blocks.0.0.weight"
SD1_TEXT = "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight"
SD2_TEXT = "cond_stage_model.model.token_embedding.weight"
XL_TEXT = "conditioner.embedders.1.model.token_embedding.weight"
REFINER_TEXT = "conditioner.embedders.0.model.token_embedding.weight"


def shapes(in_channels, text_key):
    return {UNET_IN: (320, in_channels, 3, 3), text_key: (49408, 768)}


@pytest.mark.parametrize(
    "in_channels, text_key, family",
    [
        (4, SD1_TEXT, "sd15"),
        (9, SD1_TEXT, "sd15_inpaint"),
        (4, SD2_TEXT, "sd2_v"),
        (9, SD2_TEXT, "sd2_inpaint"),
        (4, XL_TEXT, "sdxl"),
        (9, XL_TEXT, "sdxl_inpaint"),
    ],
)
def test_families_are_told_apart_by_their_tensors(tmp_path, in_channels, text_key, family):
    info = family_from_shapes(tmp_path / "model.safetensors", shapes(in_channels, text_key))
    assert (info.kind, info.family, info.problem) == ("pipeline", family, None)
    assert info.inpaint == family.endswith("_inpaint")


def test_sd2_prediction_type_comes_from_the_sidecar_yaml_or_the_name(tmp_path):
    assert family_from_shapes(tmp_path / "v2-1_512-base-ema.safetensors", shapes(4, SD2_TEXT)).family == "sd2"
    (tmp_path / "custom.yaml").write_text("model:\n  params:\n    parameterization: \"v\"\n")
    assert family_from_shapes(tmp_path / "custom.safetensors", shapes(4, SD2_TEXT)).family == "sd2_v"
    (tmp_path / "other.yaml").write_text("model:\n  params:\n    linear_start: 0.00085\n")
    assert family_from_shapes(tmp_path / "other.safetensors", shapes(4, SD2_TEXT)).family == "sd2"


def test_unsupported_checkpoints_say_why(tmp_path):
    assert "refiner" in family_from_shapes(tmp_path / "r.safetensors", shapes(4, REFINER_TEXT)).problem
    assert family_from_shapes(tmp_path / "c.safetensors", {"control_model.time_embed.0.weight": (1,)}).kind == "controlnet"
    assert "no UNet" in family_from_shapes(tmp_path / "x.safetensors", {"foo": (1,)}).problem


def test_a_models_folder_lists_every_checkpoint_with_its_family(tmp_path):
    (tmp_path / "sub").mkdir()
    save_file({UNET_IN: np.zeros((2, 9, 1, 1), np.float16), SD1_TEXT: np.zeros((1,), np.float16)}, str(tmp_path / "sub" / "inpaint.safetensors"))
    save_file({UNET_IN: np.zeros((2, 4, 1, 1), np.float16), XL_TEXT: np.zeros((1,), np.float16)}, str(tmp_path / "xl.safetensors"))
    (tmp_path / "old.ckpt").write_bytes(b"not really")
    (tmp_path / "broken.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{")
    (tmp_path / "notes.txt").write_text("ignored")
    pipe = tmp_path / "diffusers-model"
    for sub, data in {
        ".": {"_class_name": "StableDiffusionPipeline"},
        "unet": {"in_channels": 4},
        "text_encoder": {"hidden_act": "quick_gelu"},
        "scheduler": {"prediction_type": "epsilon"},
    }.items():
        (pipe / sub).mkdir(parents=True, exist_ok=True)
        name = "model_index.json" if sub == "." else ("scheduler_config.json" if sub == "scheduler" else "config.json")
        (pipe / sub / name).write_text(json.dumps(data))
    (pipe / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"")  # inside a pipeline: not listed alone

    found = {info.path.name: info for info in scan_folder(tmp_path)}
    assert set(found) == {"inpaint.safetensors", "xl.safetensors", "old.ckpt", "broken.safetensors", "diffusers-model"}
    assert found["inpaint.safetensors"].family == "sd15_inpaint"
    assert found["xl.safetensors"].family == "sdxl"
    assert found["diffusers-model"].family == "sd15" and found["diffusers-model"].layout == "diffusers"
    assert "refused by default" in found["old.ckpt"].problem
    assert "damaged or truncated" in found["broken.safetensors"].problem


def test_missing_paths_are_reported_not_raised(tmp_path):
    assert "no such file" in inspect(tmp_path / "nope.safetensors").problem
    assert scan_folder(tmp_path / "nope") == []


def test_a_diffusers_controlnet_folder_is_listed_as_one_model(tmp_path):
    folder = tmp_path / "control_canny"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"_class_name": "ControlNetModel"}))
    save_file({"controlnet_cond_embedding.conv_in.weight": np.zeros((1,), np.float16)},
              str(folder / "diffusion_pytorch_model.safetensors"))
    [info] = scan_folder(tmp_path)
    assert (info.path, info.kind, info.layout) == (folder, "controlnet", "diffusers")


def test_loras_are_listed_as_loras_with_the_family_they_were_made_for(tmp_path):
    down, up = np.zeros((4, 1), np.float16), np.zeros((1, 4), np.float16)
    kohya = "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k"
    save_file({f"{kohya}.lora_down.weight": np.zeros((4, 768), np.float16), f"{kohya}.lora_up.weight": up,
               f"{kohya}.alpha": np.ones((), np.float16)}, str(tmp_path / "ink.safetensors"))
    save_file({"unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_k.lora_A.weight": np.zeros((4, 2048), np.float16),
               "unet.mid_block.attentions.0.transformer_blocks.0.attn2.to_k.lora_B.weight": up},
              str(tmp_path / "xl.safetensors"))
    save_file({"lora_te_text_model_encoder_layers_0_mlp_fc1.lora_down.weight": down,
               "lora_te_text_model_encoder_layers_0_mlp_fc1.lora_up.weight": up}, str(tmp_path / "words.safetensors"))
    found = {info.path.name: info for info in scan_folder(tmp_path)}
    assert {name: (info.kind, info.family, info.problem) for name, info in found.items()} == {
        "ink.safetensors": ("lora", "sd15", None),
        "xl.safetensors": ("lora", "sdxl", None),
        "words.safetensors": ("lora", None, None),
    }


def test_a_loras_trigger_words_come_from_its_training_metadata(tmp_path):
    import json

    from safetensors.numpy import save_file

    from studio.core.checkpoints import lora_trigger_words

    path = tmp_path / "ink.safetensors"
    tags = {"10_ink": {"ink wash": 40, "mountains": 12, " ": 3}, "5_style": {"ink wash": 2, "brush": 20}}
    save_file({"a.lora_down.weight": np.zeros((2, 2), np.float32)}, str(path),
              metadata={"ss_tag_frequency": json.dumps(tags), "modelspec.trigger_phrase": "inkstyle"})
    assert lora_trigger_words(path) == ["inkstyle", "ink wash", "brush", "mountains"]
    assert lora_trigger_words(path, most=2) == ["inkstyle", "ink wash"]
    save_file({"a.lora_down.weight": np.zeros((2, 2), np.float32)}, str(path), metadata={"ss_tag_frequency": "{bad"})
    assert lora_trigger_words(path) == []
    assert lora_trigger_words(tmp_path / "missing.safetensors") == []
