"""ControlNets: loading them offline (diffusers folders, original-layout single files), turning recipe units
into control maps, and the keyword arguments that steer a diffusers pipeline with one or several of them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
from diffusers import ControlNetModel
from diffusers.loaders.single_file_utils import convert_controlnet_checkpoint
from PIL import Image
from safetensors import SafetensorError
from safetensors.torch import load_file

from studio.core import checkpoints
from studio.core.errors import ModelError
from studio.core.images import load_image
from studio.core.recipe import ControlUnit, Recipe
from studio.core.regions import RegionPlan
from studio.engine import ldm_config
from studio.engine.loading import LoadedModel, _instantiate
from studio.engine.preprocessors import control_map


@dataclass
class Controls:
    """The ControlNets of one job with their control maps at the picture's size."""

    models: list
    maps: list[np.ndarray]
    units: tuple[ControlUnit, ...]
    picture: np.ndarray | None = None  # the job's picture: the source of units without an image of their own
    made: dict = field(default_factory=dict)  # maps by source, preprocessor and size, shared by a batch's jobs

    @property
    def controlnet(self):
        return self.models[0] if len(self.models) == 1 else self.models

    def at_size(self, width: int, height: int) -> Controls:
        """The same ControlNets with maps made for a picture of another size (an upscale's, a hires fix's second
        pass): each source is resized, then preprocessed, so that edges and lines keep their width."""
        if all(m.shape[:2] == (height, width) for m in self.maps):
            return self
        maps = [_cached_map(self.made, unit, self.picture, (width, height)) for unit in self.units]
        return replace(self, maps=maps)

    def pipeline_inputs(self, plan: RegionPlan | None, image_argument: str) -> dict:
        """What the pipeline takes: maps cut to the job's region (whole without a plan); scalars for one
        ControlNet, lists for several."""
        images = [Image.fromarray(plan.cut(m) if plan is not None else m) for m in self.maps]
        scales = [u.scale for u in self.units]
        starts = [u.start for u in self.units]
        ends = [u.end for u in self.units]
        if len(self.models) == 1:
            images, scales, starts, ends = images[0], scales[0], starts[0], ends[0]
        return {
            image_argument: images,
            "controlnet_conditioning_scale": scales,
            "control_guidance_start": starts,
            "control_guidance_end": ends,
        }


def _original_layout_prefix(state: dict) -> str | None:
    if any(key.startswith("control_model.") for key in state):
        return "control_model."
    if "input_hint_block.0.weight" in state:
        return ""
    return None


def load_controlnet(path: str | Path, base: LoadedModel) -> ControlNetModel:
    """A ControlNet for `base`, which it must match (same cross-attention width, same family)."""
    info = checkpoints.inspect(path)
    if info.kind != "controlnet":
        raise ModelError(f"{info.path.name}: {info.problem or f'not a ControlNet (it is a {info.kind} model)'}")
    if info.layout == "diffusers":
        try:
            model = ControlNetModel.from_pretrained(info.path, local_files_only=True)
        except (OSError, ValueError) as error:
            raise ModelError(f"cannot load the ControlNet {info.path.name}: {str(error).splitlines()[0]}") from None
    else:
        model = _load_single_file(info.path, base)
    _check_family(info.name, model.config, base)
    return model.to(device=base.device, dtype=base.dtype).eval().requires_grad_(False)


def _check_family(name: str, config, base: LoadedModel) -> None:
    """A ControlNet steers only the family it was trained for: same text width, same add-embedding."""
    unet = base.components["unet"].config
    xl, base_xl = config.get("addition_embed_type") == "text_time", unet.get("addition_embed_type") == "text_time"
    if config["cross_attention_dim"] != unet.cross_attention_dim or xl != base_xl:
        raise ModelError(
            f"the ControlNet {name} is for another model family than {base.info.name} "
            f"(text width {config['cross_attention_dim']}, the model's is {unet.cross_attention_dim})"
        )


def _load_single_file(path: Path, base: LoadedModel) -> ControlNetModel:
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as error:
        raise ModelError(f"cannot read {path.name}: damaged or truncated ({error})") from None
    prefix = _original_layout_prefix(state)
    if prefix is None:
        raise ModelError(f"{path.name} is a ControlNet in diffusers layout: put it in a folder with its config.json")
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    try:
        config = ldm_config.controlnet_config(shapes, prefix, base.components["unet"].config)
        _check_family(path.stem, config, base)
        weights = convert_controlnet_checkpoint(state, config)
        for ldm, ours in (("label_emb.0.0", "add_embedding.linear_1"), ("label_emb.0.2", "add_embedding.linear_2")):
            for kind in ("weight", "bias"):  # SDXL's add-embedding, which diffusers' converter leaves out
                if f"{prefix}{ldm}.{kind}" in state:
                    weights[f"{ours}.{kind}"] = state[f"{prefix}{ldm}.{kind}"]
    except (KeyError, IndexError, StopIteration) as error:
        raise ModelError(f"{path.name} looks like a ControlNet but a tensor is missing ({error})") from None
    return _instantiate(ControlNetModel, config, weights, "ControlNet")


def prepare_controls(recipe: Recipe, picture: np.ndarray, load, made: dict | None = None) -> Controls | None:
    """Load each unit's ControlNet (through `load(path)`, which caches) and make its control map; `made` keeps
    maps across the jobs of a batch, which differ in seeds and scales, not in their maps."""
    if not recipe.controlnets:
        return None
    made = {} if made is None else made
    height, width = picture.shape[:2]
    maps = [_cached_map(made, unit, picture, (width, height)) for unit in recipe.controlnets]
    models = [load(unit.model) for unit in recipe.controlnets]
    return Controls(models, maps, recipe.controlnets, picture, made)


def _cached_map(made: dict, unit: ControlUnit, picture: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    key = (unit.image, unit.preprocessor, tuple(sorted(unit.params.items())), size)
    if key not in made:
        made[key] = _unit_map(unit, picture, size)
    return made[key]


def _unit_map(unit: ControlUnit, picture: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    width, height = size
    source = load_image(unit.image) if unit.image else picture
    if source.shape[:2] != (height, width):
        source = np.asarray(Image.fromarray(source).resize((width, height), Image.Resampling.BILINEAR))
    return control_map(source, unit.preprocessor, unit.params)
