"""diffusers configs for an original-layout (CompVis/LDM) checkpoint, read from its tensor shapes.

The family's bundled config (resources/models/<family>) gives what weights cannot tell (schedulers,
scaling factors, attention head counts by the family's rule); every size that the tensors do tell is
taken from them, so fine-tunes with other widths, and the tiny test models, load through the same path.
"""

from __future__ import annotations

import json
import re
from typing import Mapping

from studio.core.resources import family_config_dir

UNET = "model.diffusion_model."
VAE = "first_stage_model."
Shapes = Mapping[str, tuple[int, ...]]

# Where each family keeps its text encoders in the original layout: (prefix, "clip" | "open_clip").
TEXT_ENCODERS = {
    "sd1": {"text_encoder": ("cond_stage_model.transformer.text_model.", "clip")},
    "sd2": {"text_encoder": ("cond_stage_model.model.", "open_clip")},
    "sdxl": {
        "text_encoder": ("conditioner.embedders.0.transformer.text_model.", "clip"),
        "text_encoder_2": ("conditioner.embedders.1.model.", "open_clip"),
    },
}


def base_of(family: str) -> str:
    return {"sd15": "sd1", "sd2": "sd2", "sdxl": "sdxl"}[family.split("_")[0]]


def bundled_config(family: str, component: str) -> dict:
    folder = family_config_dir(family)
    name = "scheduler_config.json" if component == "scheduler" else "config.json"
    return json.loads((folder / component / name).read_text())


def _indices(shapes: Shapes, pattern: str) -> list[int]:
    regex = re.compile(pattern)
    return sorted({int(m.group(1)) for key in shapes if (m := regex.match(key))})


def _heads(family_base: str, channels: int) -> int:
    """SD 1.x uses 8 heads everywhere; SD 2.x and SDXL use 64-channel heads."""
    return 8 if family_base == "sd1" else max(1, channels // 64)


def _input_levels(shapes: Shapes, prefix: str = UNET) -> list[dict]:
    """Walk input_blocks: each level has resblocks (channels, transformer depth) until a downsampler."""
    levels: list[dict] = [{"channels": [], "depths": []}]
    for index in _indices(shapes, re.escape(prefix) + r"input_blocks\.(\d+)\.")[1:]:
        block = f"{prefix}input_blocks.{index}."
        if f"{block}0.op.weight" in shapes:
            levels.append({"channels": [], "depths": []})
            continue
        levels[-1]["channels"].append(shapes[f"{block}0.out_layers.3.weight"][0])
        levels[-1]["depths"].append(len(_indices(shapes, re.escape(block) + r"1\.transformer_blocks\.(\d+)\.")))
    return levels


def _encoder_config(base: str, shapes: Shapes, prefix: str) -> dict:
    """The sizes of a UNet's encoder half (shared by UNets and ControlNets), from its tensors."""
    levels = _input_levels(shapes, prefix)
    channels = [level["channels"][0] for level in levels]
    depths = [max(level["depths"]) for level in levels]
    config = dict(
        in_channels=shapes[f"{prefix}input_blocks.0.0.weight"][1],
        block_out_channels=channels,
        layers_per_block=len(levels[0]["channels"]),
        down_block_types=["CrossAttnDownBlock2D" if d else "DownBlock2D" for d in depths],
        attention_head_dim=[_heads(base, c) for c in channels] if base != "sd1" else 8,
    )
    attention_keys = [k for k in shapes if k.endswith("attn2.to_k.weight") and k.startswith(prefix)]
    if attention_keys:
        config["cross_attention_dim"] = shapes[attention_keys[0]][1]
        proj_in = next(k for k in shapes if k.startswith(prefix) and k.endswith(".1.proj_in.weight"))
        config["use_linear_projection"] = len(shapes[proj_in]) == 2
    if f"{prefix}label_emb.0.0.weight" in shapes:
        config["transformer_layers_per_block"] = [max(d, 1) for d in depths]
        config["projection_class_embeddings_input_dim"] = shapes[f"{prefix}label_emb.0.0.weight"][1]
    return config


def unet_config(family: str, shapes: Shapes, pooled_dim: int | None = None) -> dict:
    config = bundled_config(family, "unet")
    config.update(_encoder_config(base_of(family), shapes, UNET))
    depths = [t != "DownBlock2D" for t in config["down_block_types"]]
    config["up_block_types"] = ["CrossAttnUpBlock2D" if d else "UpBlock2D" for d in reversed(depths)]
    config["out_channels"] = shapes[f"{UNET}out.2.weight"][0]
    if base_of(family) == "sdxl" and pooled_dim is not None:
        config["addition_time_embed_dim"] = (config["projection_class_embeddings_input_dim"] - pooled_dim) // 6
    return config


def controlnet_family(shapes: Shapes, prefix: str) -> str:
    """The base family a ControlNet belongs to: SDXL has the add-embedding, SD 2.x linear projections."""
    if f"{prefix}label_emb.0.0.weight" in shapes:
        return "sdxl"
    proj_in = [k for k in shapes if k.startswith(prefix) and k.endswith(".1.proj_in.weight")]
    return "sd2" if proj_in and len(shapes[proj_in[0]]) == 2 else "sd15"


def controlnet_config(shapes: Shapes, prefix: str, base_unet: Mapping) -> dict:
    """A ControlNetModel config for an original-layout ControlNet (`control_model.*` or unprefixed).
    What the tensors cannot tell (norms, SDXL's time-embedding width) comes from the base model's UNet,
    which a ControlNet must match anyway."""
    keep = ("act_fn", "flip_sin_to_cos", "freq_shift", "norm_eps", "norm_num_groups", "upcast_attention",
            "addition_embed_type", "addition_time_embed_dim", "only_cross_attention", "class_embed_type")
    config = {k: base_unet[k] for k in keep if k in base_unet}
    config.update(_encoder_config(base_of(controlnet_family(shapes, prefix)), shapes, prefix))
    config["conditioning_channels"] = shapes[f"{prefix}input_hint_block.0.weight"][1]
    if "projection_class_embeddings_input_dim" not in config:
        config.pop("addition_embed_type", None)
    return config


def vae_config(family: str, shapes: Shapes) -> dict:
    config = bundled_config(family, "vae")
    levels = _indices(shapes, re.escape(VAE) + r"encoder\.down\.(\d+)\.")
    channels = [shapes[f"{VAE}encoder.down.{i}.block.0.conv2.weight"][0] for i in levels]
    config.update(
        in_channels=shapes[f"{VAE}encoder.conv_in.weight"][1],
        out_channels=shapes[f"{VAE}decoder.conv_out.weight"][0],
        block_out_channels=channels,
        layers_per_block=len(_indices(shapes, re.escape(VAE) + r"encoder\.down\.0\.block\.(\d+)\.")),
        latent_channels=shapes[f"{VAE}decoder.conv_in.weight"][1],
        down_block_types=["DownEncoderBlock2D"] * len(channels),
        up_block_types=["UpDecoderBlock2D"] * len(channels),
    )
    return config


def text_encoder_config(family: str, component: str, shapes: Shapes) -> dict:
    """CLIPTextConfig fields for one text encoder, from its tensor shapes."""
    prefix, layout = TEXT_ENCODERS[base_of(family)][component]
    config = bundled_config(family, component)
    if layout == "clip":
        vocab, hidden = shapes[f"{prefix}embeddings.token_embedding.weight"]
        positions = shapes[f"{prefix}embeddings.position_embedding.weight"][0]
        layers = len(_indices(shapes, re.escape(prefix) + r"encoder\.layers\.(\d+)\."))
        intermediate = shapes[f"{prefix}encoder.layers.0.mlp.fc1.weight"][0]
    else:
        vocab, hidden = shapes[f"{prefix}token_embedding.weight"]
        positions = shapes[f"{prefix}positional_embedding"][0]
        layers = len(_indices(shapes, re.escape(prefix) + r"transformer\.resblocks\.(\d+)\."))
        intermediate = shapes[f"{prefix}transformer.resblocks.0.mlp.c_fc.weight"][0]
        if base_of(family) == "sd2":
            layers -= 1  # SD 2.x conditions on the penultimate layer; diffusers drops the last one
        if f"{prefix}text_projection" in shapes:
            config["projection_dim"] = shapes[f"{prefix}text_projection"][1]
    config.update(
        vocab_size=vocab,
        hidden_size=hidden,
        max_position_embeddings=positions,
        num_hidden_layers=layers,
        intermediate_size=intermediate,
        num_attention_heads=max(1, hidden // 64),
    )
    return config


def pooled_dim(family: str, shapes: Shapes) -> int | None:
    """SDXL's pooled text embedding width (the second encoder's projection), which sizes the UNet's add_embedding."""
    if base_of(family) != "sdxl":
        return None
    prefix = TEXT_ENCODERS["sdxl"]["text_encoder_2"][0]
    return shapes[f"{prefix}text_projection"][1]


def scheduler_config(family: str) -> dict:
    return bundled_config(family, "scheduler")


def pipeline_class_name(family: str) -> str:
    return json.loads((family_config_dir(family) / "model_index.json").read_text())["_class_name"]


def sd2_ignored_layer(shapes: Shapes) -> str:
    """The prefix of SD 2.x's last OpenCLIP resblock, which the pipeline never uses."""
    prefix = TEXT_ENCODERS["sd2"]["text_encoder"][0]
    last = _indices(shapes, re.escape(prefix) + r"transformer\.resblocks\.(\d+)\.")[-1]
    return f"{prefix}transformer.resblocks.{last}."
