"""The tiny Stable Diffusion fixtures: diffusers folders load and run; single files invert exactly
through diffusers' own original->diffusers conversion functions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tests.fixtures import ldm_layout
from tests.fixtures.tiny_models import (
    FLAVOURS,
    base_flavour,
    build_components,
    is_inpaint,
    pipeline_class,
    save_diffusers_folder,
    save_single_file,
)

sfu = pytest.importorskip("diffusers.loaders.single_file_utils")
from safetensors.torch import load_file  # noqa: E402


@pytest.fixture(scope="module")
def single_files(tmp_path_factory):
    """flavour -> (components, loaded single-file state dict); each file written once per module."""
    cache: dict[str, tuple[dict, dict[str, torch.Tensor]]] = {}

    def get(flavour: str):
        if flavour not in cache:
            path = save_single_file(flavour, tmp_path_factory.mktemp(f"single-{flavour}"))
            assert path.suffix == ".safetensors" and path.is_file()
            cache[flavour] = (build_components(flavour), load_file(str(path)))
        return cache[flavour]

    return get


def _assert_same_state(converted: dict[str, torch.Tensor], reference: dict[str, torch.Tensor]) -> None:
    assert sorted(converted) == sorted(reference)
    mismatched = [k for k in reference if not torch.equal(converted[k], reference[k])]
    assert not mismatched, mismatched[:10]


def _unwrapped(model, converted: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """transformers >= 5.6 flattened CLIPTextModel (no ``text_model.`` wrapper); diffusers strips it too."""
    if hasattr(model, "text_model"):
        return converted
    return {k.removeprefix("text_model."): v for k, v in converted.items()}


# ------------------------------------------------------------------------------------------------
# components
# ------------------------------------------------------------------------------------------------


def test_components_are_deterministic_and_nontrivial():
    a, b = build_components("sdxl", seed=0), build_components("sdxl", seed=0)
    c = build_components("sdxl", seed=1)
    for name in ("unet", "vae", "text_encoder", "text_encoder_2"):
        sa, sb, sc = a[name].state_dict(), b[name].state_dict(), c[name].state_dict()
        assert all(torch.equal(sa[k], sb[k]) for k in sa), name
        assert not all(torch.equal(sa[k], sc[k]) for k in sa), name
        for key, value in a[name].named_parameters():
            flat = value.detach().reshape(-1)
            assert not bool((flat == flat[0]).all()), f"{name}.{key} is constant"


def test_component_shapes_follow_the_conventions():
    sd1, sd2, xl = build_components("sd1"), build_components("sd2"), build_components("sdxl_inpaint")
    assert sd1["unet"].config.attention_head_dim == 8 and not sd1["unet"].config.use_linear_projection
    assert list(sd2["unet"].config.attention_head_dim) == [1, 1] and sd2["unet"].config.use_linear_projection
    assert sd1["text_encoder"].config.hidden_act == "quick_gelu"
    assert sd2["text_encoder"].config.hidden_act == "gelu"
    assert xl["unet"].config.in_channels == 9
    assert xl["unet"].config.cross_attention_dim == 64
    assert xl["unet"].config.projection_class_embeddings_input_dim == 80
    assert xl["vae"].config.scaling_factor == pytest.approx(0.13025)
    assert xl["tokenizer"].pad_token == "<|endoftext|>" and xl["tokenizer_2"].pad_token == "!"
    assert sd2["tokenizer"].pad_token == "!" and sd2["tokenizer"].model_max_length == 77
    ids = sd1["tokenizer"]("a photo of a cat").input_ids
    assert ids[0] == 49406 and ids[-1] == 49407


# ------------------------------------------------------------------------------------------------
# diffusers folders
# ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_diffusers_folder_loads_and_generates(flavour, tmp_path):
    folder = save_diffusers_folder(flavour, tmp_path / flavour)
    assert (folder / "model_index.json").is_file()
    assert list((folder / "unet").glob("*.safetensors"))

    cls = pipeline_class(flavour)
    pipe = cls.from_pretrained(folder, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    original = build_components(flavour)
    loaded = pipe.unet.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in original["unet"].state_dict().items())

    kwargs = dict(
        prompt="a red apple",
        num_inference_steps=2,
        height=64,
        width=64,
        guidance_scale=2.0,
        output_type="np",
        generator=torch.Generator().manual_seed(0),
    )
    if is_inpaint(flavour):
        mask = np.zeros((64, 64), np.uint8)
        mask[16:48, 16:48] = 255
        kwargs.update(image=Image.new("RGB", (64, 64), (120, 40, 200)), mask_image=Image.fromarray(mask))
        if base_flavour(flavour) == "sdxl":
            kwargs["strength"] = 1.0
    with torch.no_grad():
        images = pipe(**kwargs).images
    assert images.shape == (1, 64, 64, 3)
    assert np.isfinite(images).all()


# ------------------------------------------------------------------------------------------------
# single files (original layout)
# ------------------------------------------------------------------------------------------------

EXPECTED_PREFIXES = {
    "sd1": {"model.diffusion_model.", "first_stage_model.", "cond_stage_model.transformer.text_model."},
    "sd2": {"model.diffusion_model.", "first_stage_model.", "cond_stage_model.model."},
    "sdxl": {
        "model.diffusion_model.",
        "first_stage_model.",
        "conditioner.embedders.0.transformer.text_model.",
        "conditioner.embedders.1.model.",
    },
}


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_single_file_keys_and_shapes(flavour, single_files):
    comps, sd = single_files(flavour)
    prefixes = EXPECTED_PREFIXES[base_flavour(flavour)]
    stray = [k for k in sd if not any(k.startswith(p) for p in prefixes)]
    assert not stray, stray[:10]
    for p in prefixes:
        assert any(k.startswith(p) for k in sd), p
    assert all(v.dtype == torch.float32 for v in sd.values())

    assert sd["model.diffusion_model.input_blocks.0.0.weight"].shape[1] == (9 if is_inpaint(flavour) else 4)
    assert sd["first_stage_model.encoder.mid.attn_1.q.weight"].shape == (64, 64, 1, 1)
    base = base_flavour(flavour)
    if base == "sd2":
        oc = "cond_stage_model.model."
        n = comps["text_encoder"].config.num_hidden_layers
        for i in range(n + 1):  # one resblock more than diffusers uses
            assert sd[f"{oc}transformer.resblocks.{i}.attn.in_proj_weight"].shape == (96, 32)
        assert not any(k.startswith(f"{oc}transformer.resblocks.{n + 1}.") for k in sd)
        for key in ("token_embedding.weight", "positional_embedding", "ln_final.weight", "text_projection"):
            assert oc + key in sd
        assert sd[f"{oc}transformer.resblocks.0.mlp.c_fc.weight"].shape == (37, 32)
    if base == "sdxl":
        oc = "conditioner.embedders.1.model."
        proj = comps["text_encoder_2"].text_projection.weight
        assert torch.equal(sd[oc + "text_projection"], proj.detach().T)
        assert "model.diffusion_model.label_emb.0.0.weight" in sd
        assert sd["model.diffusion_model.label_emb.0.0.weight"].shape == (128, 80)
        # SDXL has no attention on its first level; the middle block has 2 transformer layers.
        assert not any(k.startswith("model.diffusion_model.input_blocks.1.1.") for k in sd)
        assert "model.diffusion_model.middle_block.1.transformer_blocks.1.attn1.to_q.weight" in sd
    else:
        assert "model.diffusion_model.input_blocks.1.1.proj_in.weight" in sd
        assert not any(".label_emb." in k for k in sd)


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_single_file_round_trips_through_diffusers_converters(flavour, single_files):
    comps, sd = single_files(flavour)
    unet, vae = comps["unet"], comps["vae"]
    _assert_same_state(sfu.convert_ldm_unet_checkpoint(sd, unet.config), unet.state_dict())
    _assert_same_state(sfu.convert_ldm_vae_checkpoint(sd, vae.config), vae.state_dict())

    base = base_flavour(flavour)
    te = comps["text_encoder"]
    if base == "sd1":
        clip_keys = {k for k in sd if k.startswith(ldm_layout.SD1_CLIP_PREFIX)}
        converted = sfu.convert_ldm_clip_checkpoint({k: sd[k] for k in clip_keys})
        _assert_same_state(_unwrapped(te, converted), te.state_dict())
    elif base == "sd2":
        extra = f"{ldm_layout.SD2_OPENCLIP_PREFIX}transformer.resblocks.{te.config.num_hidden_layers}."
        trimmed = {k: v for k, v in sd.items() if not k.startswith(extra)}
        converted = sfu.convert_open_clip_checkpoint(te, trimmed, prefix=ldm_layout.SD2_OPENCLIP_PREFIX)
        _assert_same_state(_unwrapped(te, converted), te.state_dict())
    else:
        clip_keys = {k for k in sd if k.startswith(ldm_layout.SDXL_CLIP_PREFIX)}
        converted = sfu.convert_ldm_clip_checkpoint({k: sd[k] for k in clip_keys})
        _assert_same_state(_unwrapped(te, converted), te.state_dict())
        te2 = comps["text_encoder_2"]
        converted = sfu.convert_open_clip_checkpoint(te2, sd, prefix=ldm_layout.SDXL_OPENCLIP_PREFIX)
        _assert_same_state(_unwrapped(te2, converted), te2.state_dict())


def test_single_file_path_may_name_the_file(tmp_path):
    target = tmp_path / "deep" / "model.safetensors"
    assert save_single_file("sd1", target) == target and target.is_file()


@pytest.mark.parametrize("flavour", FLAVOURS)
def test_single_file_loads_with_diffusers_from_single_file(flavour, tmp_path):
    """Cross-check with diffusers' whole single-file loader (configs taken from the diffusers folder).

    SDXL's text_encoder_2 is not compared: diffusers tells the two SDXL text encoders apart by width
    (768 vs 1280) and both tiny encoders are 32 wide, so it loads CLIP-L weights into text_encoder_2.
    The exact OpenCLIP round trip is covered above.
    """
    folder = save_diffusers_folder(flavour, tmp_path / "folder")
    file = save_single_file(flavour, tmp_path / "model.safetensors")
    pipe = pipeline_class(flavour).from_single_file(str(file), config=str(folder), local_files_only=True)
    reference = build_components(flavour)
    for name in ("unet", "vae", "text_encoder"):
        loaded, original = getattr(pipe, name).state_dict(), reference[name].state_dict()
        _assert_same_state({k: loaded[k] for k in original}, original)
