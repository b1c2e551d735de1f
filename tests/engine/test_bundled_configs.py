"""The configs and tokenizer shipped in resources/ build the real Stable Diffusion architectures, offline.

Every component is instantiated at full size on torch's meta device (no memory, no weights) and its
parameter count compared with the published model's.
"""

from __future__ import annotations

import importlib.util
import json

import pytest
import torch
from diffusers import AutoencoderKL, DDIMScheduler, DiffusionPipeline, UNet2DConditionModel
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

from studio.core import resources
from studio.core.checkpoints import FAMILIES

# Parameter counts of the published models (diffusers / transformers layouts).
SD15_UNET = 859_520_964
SD2_UNET = 865_910_724
SDXL_UNET = 2_567_463_684
INPAINT_EXTRA = 5 * 320 * 9  # conv_in takes 9 channels instead of 4 (masked-image latents + mask)
SD_VAE = 83_653_863
CLIP_L_TEXT = 123_060_480  # OpenAI CLIP ViT-L/14 text tower
OPENCLIP_H_TEXT_23 = 340_387_840  # OpenCLIP ViT-H/14 text tower without its last layer (SD 2 uses the penultimate)
OPENCLIP_BIGG_TEXT_PROJ = 694_659_840  # OpenCLIP ViT-bigG/14 text tower + 1280x1280 projection

EXPECTED = {
    "sd15": {"unet": SD15_UNET, "vae": SD_VAE, "text_encoder": CLIP_L_TEXT},
    "sd15_inpaint": {"unet": SD15_UNET + INPAINT_EXTRA, "vae": SD_VAE, "text_encoder": CLIP_L_TEXT},
    "sd2": {"unet": SD2_UNET, "vae": SD_VAE, "text_encoder": OPENCLIP_H_TEXT_23},
    "sd2_v": {"unet": SD2_UNET, "vae": SD_VAE, "text_encoder": OPENCLIP_H_TEXT_23},
    "sd2_inpaint": {"unet": SD2_UNET + INPAINT_EXTRA, "vae": SD_VAE, "text_encoder": OPENCLIP_H_TEXT_23},
    "sdxl": {"unet": SDXL_UNET, "vae": SD_VAE, "text_encoder": CLIP_L_TEXT, "text_encoder_2": OPENCLIP_BIGG_TEXT_PROJ},
    "sdxl_inpaint": {
        "unet": SDXL_UNET + INPAINT_EXTRA,
        "vae": SD_VAE,
        "text_encoder": CLIP_L_TEXT,
        "text_encoder_2": OPENCLIP_BIGG_TEXT_PROJ,
    },
}
# family -> (pipeline class, unet in_channels, prediction type, default resolution in pixels)
SHAPE = {
    "sd15": ("StableDiffusionPipeline", 4, "epsilon", 512),
    "sd15_inpaint": ("StableDiffusionInpaintPipeline", 9, "epsilon", 512),
    "sd2": ("StableDiffusionPipeline", 4, "epsilon", 512),
    "sd2_v": ("StableDiffusionPipeline", 4, "v_prediction", 768),
    "sd2_inpaint": ("StableDiffusionInpaintPipeline", 9, "epsilon", 512),
    "sdxl": ("StableDiffusionXLPipeline", 4, "epsilon", 1024),
    "sdxl_inpaint": ("StableDiffusionXLInpaintPipeline", 9, "epsilon", 1024),
}
TEXT_CLASSES = {"CLIPTextModel": CLIPTextModel, "CLIPTextModelWithProjection": CLIPTextModelWithProjection}
CAT_IDS = [49406, 320, 1125, 539, 320, 2368, 49407]  # "a photo of a cat"


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def build_components(family: str) -> dict[str, torch.nn.Module]:
    folder = resources.family_config_dir(family)
    index = json.loads((folder / "model_index.json").read_text())
    built = {}
    with torch.device("meta"):
        built["unet"] = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(folder / "unet"))
        built["vae"] = AutoencoderKL.from_config(AutoencoderKL.load_config(folder / "vae"))
        for name in ("text_encoder", "text_encoder_2"):
            if name in index:
                config = CLIPTextConfig.from_json_file(folder / name / "config.json")
                assert config.architectures == [index[name][1]]
                built[name] = TEXT_CLASSES[index[name][1]](config)
    return built


def tokenizer_variants() -> dict:
    return json.loads((resources.resources_dir() / "tokenizers" / "tokenizers.json").read_text())


def load_tokenizer(variant: str) -> CLIPTokenizer:
    vocab, _ = resources.clip_tokenizer_files()
    return CLIPTokenizer.from_pretrained(vocab.parent, **tokenizer_variants()["variants"][variant])


def test_every_detected_family_has_a_bundled_config():
    assert resources.known_families() == tuple(sorted(FAMILIES))
    assert set(EXPECTED) == set(FAMILIES)


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_family_builds_real_size_architecture_on_meta(family):
    folder = resources.family_config_dir(family)
    assert not any(folder.rglob("*.safetensors")) and not any(folder.rglob("*.bin")), "configs only, no weights"
    assert not (folder / "tokenizer").exists(), "the tokenizer is shared from resources/tokenizers"
    components = build_components(family)
    assert set(components) == set(EXPECTED[family])
    for name, module in components.items():
        assert next(module.parameters()).is_meta
        assert n_params(module) == pytest.approx(EXPECTED[family][name], rel=0.01), f"{family}/{name}"
    _, in_channels, _, pixels = SHAPE[family]
    unet, vae = components["unet"].config, components["vae"].config
    assert unet.in_channels == in_channels and unet.out_channels == 4
    assert unet.sample_size * 2 ** (len(vae.block_out_channels) - 1) == pixels
    assert vae.scaling_factor == (0.13025 if family.startswith("sdxl") else 0.18215)
    text_width = components.get("text_encoder_2", components["text_encoder"]).config.hidden_size
    if family.startswith("sdxl"):
        text_width += components["text_encoder"].config.hidden_size
    assert unet.cross_attention_dim == text_width


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_scheduler_config_loads(family):
    folder = resources.family_config_dir(family)
    scheduler = DDIMScheduler.from_config(DDIMScheduler.load_config(folder / "scheduler"))
    assert scheduler.config.num_train_timesteps == 1000
    assert scheduler.config.beta_schedule == "scaled_linear"
    assert (scheduler.config.beta_start, scheduler.config.beta_end) == (0.00085, 0.012)
    assert scheduler.config.prediction_type == SHAPE[family][2]


@pytest.mark.parametrize("family", sorted(EXPECTED))
def test_model_index_assembles_the_pipeline(family):
    """diffusers reads model_index.json and accepts the bundled components with the shared tokenizers."""
    folder = resources.family_config_dir(family)
    index = DiffusionPipeline.load_config(folder)
    components = build_components(family)
    scheduler_cls = getattr(__import__("diffusers"), index["scheduler"][1])
    components["scheduler"] = scheduler_cls.from_pretrained(folder, subfolder="scheduler")
    for slot, variant in tokenizer_variants()["families"][family].items():
        assert index[slot] == ["transformers", "CLIPTokenizer"]
        components[slot] = load_tokenizer(variant)
    pipe = DiffusionPipeline.from_pretrained(folder, local_files_only=True, **components)
    assert type(pipe).__name__ == SHAPE[family][0]
    if family.startswith("sdxl"):
        assert pipe.config.force_zeros_for_empty_prompt is (family == "sdxl")
    else:
        assert index["safety_checker"] == [None, None] and pipe.config.requires_safety_checker is False


def test_clip_tokenizer_ids():
    vocab, merges = resources.clip_tokenizer_files()
    assert merges.read_text(encoding="utf-8").splitlines()[0] == "#version: 0.2"
    for variant, pad_id in (("clip_l", 49407), ("open_clip", 0)):
        tokenizer = load_tokenizer(variant)
        assert len(tokenizer) == 49408
        assert (tokenizer.bos_token_id, tokenizer.eos_token_id, tokenizer.pad_token_id) == (49406, 49407, pad_id)
        assert tokenizer.model_max_length == 77
        assert tokenizer("a photo of a cat").input_ids == CAT_IDS
        assert tokenizer("A Photo  of a CAT").input_ids == CAT_IDS  # lower-cased, whitespace collapsed
        padded = tokenizer("a photo of a cat", padding="max_length", max_length=77).input_ids
        assert padded == CAT_IDS + [pad_id] * 70


def test_vocab_is_bytes_then_merges_then_specials():
    """vocab.json is exactly what build_clip_tokenizer.py derives: byte tokens, their '</w>' forms, merges, specials."""
    vocab_path, merges_path = resources.clip_tokenizer_files()
    spec = importlib.util.spec_from_file_location("build_clip_tokenizer", vocab_path.parents[1] / "build_clip_tokenizer.py")
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    merges = [line.split() for line in merges_path.read_text(encoding="utf-8").splitlines()[1:]]
    assert len(merges) == 49152 - 256 - 2
    tokens = list(build.bytes_to_unicode().values())
    tokens += [t + "</w>" for t in tokens] + ["".join(m) for m in merges] + ["<|startoftext|>", "<|endoftext|>"]
    assert json.loads(vocab_path.read_text(encoding="utf-8")) == {t: i for i, t in enumerate(tokens)}


def test_resources_helpers(monkeypatch, tmp_path):
    assert (resources.resources_dir() / "models" / "README.md").is_file()
    assert all(path.is_file() for path in resources.clip_tokenizer_files())
    with pytest.raises(ValueError, match=r"'sd3'.*sd15, sd15_inpaint, sd2"):
        resources.family_config_dir("sd3")
    (tmp_path / "models" / "custom").mkdir(parents=True)
    (tmp_path / "models" / "custom" / "model_index.json").write_text("{}")
    monkeypatch.setenv("STUDIO_RESOURCES", str(tmp_path))
    assert resources.resources_dir() == tmp_path
    assert resources.family_config_dir("custom") == tmp_path / "models" / "custom"
    assert resources.clip_tokenizer_files()[0] == tmp_path / "tokenizers" / "clip" / "vocab.json"
    with pytest.raises(ValueError, match="sd15"):
        resources.family_config_dir("sd15")
