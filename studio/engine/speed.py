"""Speed: the optimizations Studio applies to the diffusers pipelines it builds, each a separate switch.

`optimize_pipeline(pipe, settings)` is the one entry point: the engine calls it wherever it builds a pipeline
(engine/pipelines.build_pipeline, engine/upscale), with `speed_settings(model)`. The switches change the shared
model components in place (memory format, attention processors, compiled call) and remember on each module what
they did, so a second call with the same settings costs nothing and a call with other settings converts the
module, both ways (`studio bench --ablate` relies on it).

=================== =================================================================== ==========
switch              what it does                                                         runs on
=================== =================================================================== ==========
channels_last       NHWC weights for UNet, ControlNet and VAE (cuDNN's fast layout)      any device
fuse_qkv            one projection for q, k, v (k, v in cross-attention)                 any device
attention           SDPA kernel: default (PyTorch picks) | flash | cudnn | efficient     CUDA
compile             torch.compile of the UNet: off | default | reduce-overhead (CUDA     CUDA
                    graphs) | max-autotune | max-autotune-no-cudagraphs
compile_controlnet  the same for ControlNets                                             CUDA
compile_dynamic     dynamic shapes: None (torch decides at the first recompile) | bool   CUDA
compile_tuning      the inductor flags diffusers recommends for UNets                    CUDA
cudnn_benchmark     cuDNN autotunes each convolution shape once                          CUDA
embedding_cache     text embeddings kept per (prompt, negative prompt, text encoders)    any device
vae_tiling          the VAE works in tiles above its native size (flat memory)           any device
=================== =================================================================== ==========

The half-precision dtype is chosen when a model loads (`preferred_dtype`, from engine/device.pick_dtype): bf16
on Ampere and later (same tensor-core speed as fp16, and no fp32 VAE upcast: SDXL's VAE overflows in fp16), fp16
on older GPUs and Apple, fp32 on the CPU. Classifier-free guidance is batched (cond and uncond in one forward pass)
by the diffusers pipelines themselves; SDPA attention is diffusers' default processor (AttnProcessor2_0).

Defaults: everything off on CPU and Apple (the test suite runs stock diffusers), `CUDA_DEFAULTS` on CUDA;
compilation without CUDA graphs (`compile=default`, `max-autotune-no-cudagraphs`) also runs there when asked for;
`STUDIO_SPEED="compile=off,channels_last=0"` overrides switches. Offloaded modules (memory policies
model_offload, sequential_offload) are never compiled, fused or converted.

Warm-up never blocks the window: torch.compile compiles at the first call with a new shape, and that call runs
in the worker thread (ui/worker.py) like every job; the window stays live and shows the job as running.
`warm_up(model)` compiles the common shape ahead of the first job, and the compiled artefacts (FX graphs,
Triton kernels, autotuning results) persist in `compile_cache_dir()`, so later sessions start warm.
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import os
import sys
import types
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import torch

from studio.core.errors import StudioError

log = logging.getLogger(__name__)

COMPILE_MODES = ("off", "default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")
CUDA_GRAPH_MODES = ("reduce-overhead", "max-autotune")
ATTENTION_KERNELS = ("default", "flash", "cudnn", "efficient", "math")
CUDA_ONLY = ("attention", "compile", "compile_controlnet", "compile_dynamic", "compile_tuning", "cudnn_benchmark")
COMPILE_SWITCHES = ("compile", "compile_controlnet")  # modes without CUDA graphs also run elsewhere, when asked for
COMPILE_OPTIONS = ("compile_dynamic", "compile_tuning")
ENV_VAR = "STUDIO_SPEED"
RECOMPILE_LIMIT = 64  # every UNet, ControlNet and shape is an entry of Module._call_impl's code cache (torch: 8)
EMBEDDING_CACHE_SIZE = 32  # per text encoder
# The inductor flags of diffusers' torch.compile guide for SD / SDXL UNets.
COMPILE_TUNING = {
    "conv_1x1_as_mm": True,
    "coordinate_descent_tuning": True,
    "coordinate_descent_check_all_directions": True,
    "epilogue_fusion": False,
}
STATE = "_studio_speed"  # what the switches did to a module, kept on the module


@dataclass(frozen=True)
class SpeedSettings:
    channels_last: bool = False
    fuse_qkv: bool = False
    attention: str = "default"
    compile: str = "off"
    compile_controlnet: str = "off"
    compile_dynamic: bool | None = None
    compile_tuning: bool = False
    cudnn_benchmark: bool = False
    embedding_cache: bool = False
    vae_tiling: bool = False

    def __post_init__(self):
        if self.attention not in ATTENTION_KERNELS:
            raise ValueError(f"attention must be one of {', '.join(ATTENTION_KERNELS)}, got {self.attention!r}")
        for name in ("compile", "compile_controlnet"):
            if getattr(self, name) not in COMPILE_MODES:
                raise ValueError(f"{name} must be one of {', '.join(COMPILE_MODES)}, got {getattr(self, name)!r}")

    def replace(self, **changes: Any) -> "SpeedSettings":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def with_text(self, text: str) -> "SpeedSettings":
        """These settings with `name=value` pairs (comma-separated) applied, e.g. "compile=off,channels_last=0"."""
        changes = {}
        known = {f.name: f for f in dataclasses.fields(self)}
        for pair in filter(None, (part.strip() for part in text.split(","))):
            name, equals, value = pair.partition("=")
            name = name.strip().replace("-", "_")
            if name not in known or not equals:
                raise StudioError(f"speed setting '{pair}': expected name=value with name one of {', '.join(known)}")
            changes[name] = _parse_value(name, value.strip(), getattr(self, name))
        try:
            return self.replace(**changes)
        except ValueError as error:
            raise StudioError(f"speed settings '{text}': {error}") from None


def _parse_value(name: str, value: str, current: Any) -> Any:
    lowered = value.lower()
    if name == "compile_dynamic":
        if lowered in ("none", "auto"):
            return None
        current = False
    if isinstance(current, bool):
        if lowered in ("1", "true", "on", "yes"):
            return True
        if lowered in ("0", "false", "off", "no"):
            return False
        raise StudioError(f"speed setting {name}: expected on or off, got {value!r}")
    return value


OFF = SpeedSettings()
# Only switches that are exact or standard are on until `studio bench --ablate` on a GPU shows what wins
# (issue #8: an optimization is kept only if the benchmark shows it helps). The candidates measured next:
# the switches of CANDIDATES. `studio bench --set` with CANDIDATES' values measures them together.
CUDA_DEFAULTS = SpeedSettings(
    attention="default",
    cudnn_benchmark=True,
    embedding_cache=True,
    vae_tiling=True,
)
CANDIDATES = CUDA_DEFAULTS.replace(
    channels_last=True,
    fuse_qkv=True,
    compile="reduce-overhead",  # CUDA graphs: at 512 px the eager UNet is bound by kernel launches, not the GPU
    compile_controlnet="default",  # no CUDA graphs: its outputs feed the UNet's graph within the same step
)


def default_settings(device: torch.device | str) -> SpeedSettings:
    """CUDA_DEFAULTS on CUDA, everything off elsewhere; $STUDIO_SPEED changes single switches."""
    settings = CUDA_DEFAULTS if torch.device(device).type == "cuda" else OFF
    text = os.environ.get(ENV_VAR)
    return settings.with_text(text) if text else settings


def speed_settings(model) -> SpeedSettings:
    """The settings for a loaded model: its own (`model.extra["speed"]`, set by the benchmark) or the device's
    defaults; never compiled when the memory policy offloads (weights move, compiled graphs would not follow).
    While a LoRA is on in the UNet (engine/loras.py) its projections are not fused (the fused q/k/v copy holds the
    base weights, so the LoRA would be skipped) and it runs uncompiled (a compiled graph guards on each adapter's
    scale, so every new weight would recompile, and CUDA graphs would pin the adapters' memory); the next job
    without LoRAs fuses and compiles again."""
    settings = model.extra.get("speed") or default_settings(model.device)
    if model.memory_policy != "gpu":
        settings = settings.replace(compile="off", compile_controlnet="off")
    if _adapters_on(model.components.get("unet")):
        settings = settings.replace(fuse_qkv=False, compile="off")
    return settings


def _adapters_on(module) -> bool:
    """Whether a model part runs peft LoRA layers (engine/loras.py) that are switched on."""
    if not getattr(module, "_hf_peft_config_loaded", False):
        return False
    from peft.tuners.tuners_utils import BaseTunerLayer

    return any(isinstance(layer, BaseTunerLayer) and not layer.disable_adapters
               and any(name in getattr(layer, "lora_A", {}) for name in layer.active_adapters)
               for layer in module.modules())


def _adapter_state(module) -> tuple:
    """The LoRA adapters a text encoder runs and at which scales (engine/loras.py): its embeddings depend on them."""
    if not getattr(module, "_hf_peft_config_loaded", False):
        return ()
    from peft.tuners.tuners_utils import BaseTunerLayer

    states = {(layer.disable_adapters, tuple(layer.active_adapters), tuple(sorted(layer.scaling.items())))
              for layer in module.modules() if isinstance(layer, BaseTunerLayer)}
    return tuple(sorted(states, key=repr))


def preferred_dtype(device: torch.device | str, capability: tuple[int, int] | None = None) -> torch.dtype:
    """The half precision a device computes fastest without overflow: bf16 on CUDA compute capability 8 and
    later (Ampere, Ada, Hopper), fp16 on older CUDA GPUs and Apple, fp32 on the CPU."""
    device = torch.device(device)
    if device.type == "cuda":
        major = (capability or torch.cuda.get_device_capability(device))[0]
        return torch.bfloat16 if major >= 8 else torch.float16
    if device.type == "mps":
        return torch.float16
    return torch.float32


# the entry point ------------------------------------------------------------------------------------------------


def optimize_pipeline(pipe, settings: SpeedSettings | None = None) -> dict[str, str]:
    """Bring a freshly built pipeline's models to `settings`; returns what each switch did ("on", "off",
    "skipped (cpu): …"). CUDA-only switches are skipped elsewhere; offloaded modules are left as they are."""
    device = _device_of(pipe)
    settings = settings or default_settings(device)
    report = optimize_models(_models(pipe), device, settings)
    if settings.embedding_cache:
        cache_prompt_embeddings(pipe)
    return report


def optimize_models(models, device: torch.device, settings: SpeedSettings) -> dict[str, str]:
    """The module switches for (role, module) pairs, role "unet", "controlnet" or "vae"."""
    device = torch.device(device)
    cuda = device.type == "cuda"
    report = describe(settings, device)
    for role, module in models:
        if _offloaded(module):
            _set_compiled(module, "off", settings)
            report["offloaded"] = "modules left as they are"
            continue
        _set_channels_last(module, settings.channels_last)
        _set_attention(module, settings.fuse_qkv, settings.attention if cuda else "default")
        mode = {"unet": settings.compile, "controlnet": settings.compile_controlnet}.get(role, "off")
        _set_compiled(module, mode if cuda or mode not in CUDA_GRAPH_MODES else "off", settings)
        if role == "vae" and settings.vae_tiling:
            module.enable_tiling()  # only above the VAE's native size; "off" leaves what the task set
    if cuda:
        torch.backends.cudnn.benchmark = settings.cudnn_benchmark
    return report


def describe(settings: SpeedSettings, device: torch.device | str) -> dict[str, str]:
    """What each switch does on a device: "on", "off", a mode, or "skipped (cpu): …" for CUDA-only ones."""
    device = torch.device(device)

    def text(value: Any) -> str:
        if isinstance(value, bool):
            return "on" if value else "off"
        return "auto" if value is None else str(value)

    report = {name: text(value) for name, value in settings.to_dict().items()}
    if device.type != "cuda":
        compiling = any(report[name] not in ("off", *CUDA_GRAPH_MODES) for name in COMPILE_SWITCHES)
        for name in CUDA_ONLY:
            runs_here = ((name in COMPILE_SWITCHES and report[name] not in CUDA_GRAPH_MODES)
                         or (name in COMPILE_OPTIONS and compiling))
            if report[name] not in ("off", "default", "auto") and not runs_here:
                report[name] = f"skipped ({device.type}): {report[name]}"
    return report


def applied(module: torch.nn.Module) -> dict:
    """What the switches did to a module (for the benchmark's report)."""
    state = dict(module.__dict__.get(STATE, {}))
    if isinstance(state.get("attention"), tuple):
        fused, kernel = state["attention"]
        state["attention"] = f"{'fused ' if fused else ''}{kernel}"
    return state


def _device_of(pipe) -> torch.device:
    try:
        return torch.device(pipe._execution_device)
    except Exception:  # noqa: BLE001: pipelines without modules, or hooks that hide them
        return torch.device(getattr(pipe, "device", "cpu"))


def _unwrap(module):
    """The diffusers model inside Studio's wrappers (GuidedUNet, TiledUNet hold it as `.unet`)."""
    from diffusers import ModelMixin

    while module is not None and not isinstance(module, ModelMixin) and isinstance(module, torch.nn.Module):
        inner = module._modules.get("unet")
        if inner is None:
            break
        module = inner
    return module


def _models(pipe) -> Iterator[tuple[str, torch.nn.Module]]:
    unet = _unwrap(getattr(pipe, "unet", None))
    if isinstance(unet, torch.nn.Module):
        yield "unet", unet
    controlnet = getattr(pipe, "controlnet", None)
    nets = getattr(controlnet, "nets", None)
    for net in nets if nets is not None else ([controlnet] if controlnet is not None else []):
        yield "controlnet", net
    vae = getattr(pipe, "vae", None)
    if isinstance(vae, torch.nn.Module):
        yield "vae", vae


def _offloaded(module: torch.nn.Module) -> bool:
    """accelerate's offload hooks (model or sequential offload) are installed on it or on its children."""
    return any(getattr(m, "_hf_hook", None) is not None for m in module.modules())


def _state(module: torch.nn.Module) -> dict:
    return module.__dict__.setdefault(STATE, {})


# channels_last --------------------------------------------------------------------------------------------------


def _set_channels_last(module: torch.nn.Module, wanted: bool) -> None:
    state = _state(module)
    if state.get("channels_last", False) == wanted:
        return
    module.to(memory_format=torch.channels_last if wanted else torch.contiguous_format)
    state["channels_last"] = wanted


# attention: fused projections and the SDPA kernel ---------------------------------------------------------------


class KernelChoice:
    """An attention processor that runs another one with PyTorch's SDPA kernels in a chosen order of preference
    (the others stay as fall-backs for shapes or dtypes the chosen one does not support)."""

    ORDER = {
        "flash": ("FLASH_ATTENTION", "EFFICIENT_ATTENTION", "MATH"),
        "cudnn": ("CUDNN_ATTENTION", "FLASH_ATTENTION", "EFFICIENT_ATTENTION", "MATH"),
        "efficient": ("EFFICIENT_ATTENTION", "FLASH_ATTENTION", "MATH"),
        "math": ("MATH",),
    }

    def __init__(self, inner, kernel: str):
        from torch.nn.attention import SDPBackend, sdpa_kernel

        self.inner = inner
        self.kernel = kernel
        self.backends = [getattr(SDPBackend, name) for name in self.ORDER[kernel]]
        ordered = "set_priority" in inspect.signature(sdpa_kernel).parameters  # torch 2.6 and later
        self.options = {"set_priority": True} if ordered else {}
        if not ordered:
            self.backends = self.backends[:1] + [b for b in self.backends[1:] if b.name == "MATH"]

    def __call__(self, attn, hidden_states, encoder_hidden_states=None, attention_mask=None, temb=None, *args, **kwargs):
        from torch.nn.attention import sdpa_kernel

        with sdpa_kernel(self.backends, **self.options):
            return self.inner(attn, hidden_states, encoder_hidden_states, attention_mask, temb, *args, **kwargs)


def _set_attention(module: torch.nn.Module, fuse: bool, kernel: str) -> None:
    from diffusers.models.attention_processor import Attention, AttnProcessor2_0, FusedAttnProcessor2_0

    state = _state(module)
    if state.get("attention", (False, "default")) == (fuse, kernel):
        return
    for attn in module.modules():
        if not isinstance(attn, Attention):
            continue
        original = attn.__dict__.setdefault("_studio_original_processor", attn.processor)
        if type(original) is not AttnProcessor2_0:
            continue  # a custom processor (IP-Adapter, LoRA…) is left to its owner
        processor = original
        if fuse:
            if not (hasattr(attn, "to_qkv") or hasattr(attn, "to_kv")):
                attn.fuse_projections(fuse=True)
            processor = FusedAttnProcessor2_0()
        if kernel != "default":
            processor = KernelChoice(processor, kernel)
        attn.set_processor(processor)
    state["attention"] = (fuse, kernel)


# torch.compile ----------------------------------------------------------------------------------------------------


def compile_cache_dir() -> Path:
    """Where compiled artefacts persist between sessions (the inductor cache), under the user cache folder."""
    from platformdirs import user_cache_dir

    return Path(os.environ.get("STUDIO_CACHE_DIR") or user_cache_dir("studio")) / "torch-compile"


_compiled_any = False


def _torch_default_cache_dir() -> str:
    """Where inductor caches when nobody chose: a temporary folder, emptied at reboot (torch sets the variable to
    it as soon as anything asks, so "set" does not mean "chosen")."""
    try:
        from torch._inductor.runtime.cache_dir_utils import default_cache_dir

        return default_cache_dir()
    except ImportError:  # older torch
        import getpass
        import tempfile

        return os.path.join(tempfile.gettempdir(), "torchinductor_" + getpass.getuser())


def _prepare_compiler() -> None:
    """The persistent cache for compiled artefacts (unless the user chose one), and room for every model's graphs."""
    global _compiled_any
    import torch._dynamo

    current = os.environ.get("TORCHINDUCTOR_CACHE_DIR")  # inductor reads it at each use
    if current is None or os.path.abspath(current) == os.path.abspath(_torch_default_cache_dir()):
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(compile_cache_dir())

    if torch._dynamo.config.recompile_limit < RECOMPILE_LIMIT:
        torch._dynamo.config.recompile_limit = RECOMPILE_LIMIT
    _compiled_any = True


def _call_module(module, *args, **kwargs):
    return module._call_impl(*args, **kwargs)


def _clone_tensors(value):
    """Outputs of a CUDA-graph replay live in memory the next replay overwrites: callers get their own copy."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, dict):
        return type(value)(**{k: _clone_tensors(v) for k, v in value.items()})
    if isinstance(value, (tuple, list)):
        return type(value)(_clone_tensors(v) for v in value)
    return value


class CompiledCall:
    """What a compiled module's `__call__` runs (torch's `Module._compiled_call_impl`). With CUDA graphs it marks
    each call as a new step and hands back copies of the outputs. A compiled call that fails (no compiler, an
    unsupported operation, a CUDA-graph capture error) leaves the module uncompiled, with the reason in its state
    and the log, and the call runs again uncompiled (an error of the model itself raises there); out of memory
    propagates to the engine's memory policy."""

    def __init__(self, module: torch.nn.Module, compiled, cudagraphs: bool):
        self.module = weakref.ref(module)  # the module owns this object: no reference cycle
        self.compiled = compiled
        self.cudagraphs = cudagraphs

    def __call__(self, *args, **kwargs):
        module = self.module()
        if self.cudagraphs:
            torch.compiler.cudagraph_mark_step_begin()
        try:
            output = self.compiled(module, *args, **kwargs)
        except Exception as error:  # noqa: BLE001: a genuine error of the model raises again, uncompiled, below
            if "out of memory" in str(error).lower() or isinstance(error, torch.cuda.OutOfMemoryError):
                raise
            log.warning("torch.compile failed for %s, running it uncompiled: %s", type(module).__name__, error)
            module._compiled_call_impl = None
            _state(module)["compile_error"] = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            return module._call_impl(*args, **kwargs)
        _give_kernels_parents()
        return _clone_tensors(output) if self.cudagraphs else output


_modules_seen = 0


def _give_kernels_parents() -> None:
    """Inductor loads its compiled kernels as modules named "<hash>.kernel" with no "<hash>" package. PySide6,
    when a Qt call gets arguments of the wrong type, imports every extension module in sys.modules by name to
    word its TypeError, and a failed import there aborts the whole process. An empty placeholder package per
    kernel makes those imports succeed (checked only when sys.modules has grown)."""
    global _modules_seen
    if len(sys.modules) == _modules_seen:
        return
    for name, module in list(sys.modules.items()):
        if os.path.splitext(getattr(module, "__file__", None) or "")[1] not in (".so", ".pyd"):
            continue  # PySide6 imports only binary modules
        parts = name.split(".")
        for depth in range(1, len(parts)):
            parent = ".".join(parts[:depth])
            if parent not in sys.modules:
                sys.modules[parent] = types.ModuleType(parent)
    _modules_seen = len(sys.modules)


def _set_compiled(module: torch.nn.Module, mode: str, settings: SpeedSettings) -> None:
    state = _state(module)
    key = "off" if mode == "off" else f"{mode} dynamic={settings.compile_dynamic} tuning={settings.compile_tuning}"
    if state.get("compile", "off") == key:
        return
    if getattr(module, "_compiled_call_impl", None) is not None:
        module._compiled_call_impl = None
    if state.get("compile", "off").split(" ")[0] in CUDA_GRAPH_MODES:
        _reset_cuda_graphs()  # their memory pools go with them (an out-of-memory retry needs that memory)
    state.pop("compile_error", None)
    if mode != "off":
        _prepare_compiler()
        import torch._inductor

        options = dict(torch._inductor.list_mode_options(mode))
        if settings.compile_tuning:
            options.update(COMPILE_TUNING)
        compiled = torch.compile(_call_module, dynamic=settings.compile_dynamic, options=options)
        module._compiled_call_impl = CompiledCall(module, compiled, bool(options.get("triton.cudagraphs")))
    state["compile"] = key


def _reset_cuda_graphs() -> None:
    try:
        from torch._inductor.cudagraph_trees import reset_cudagraph_trees
    except ImportError:  # older torch
        return
    reset_cudagraph_trees()


def release_compiled() -> None:
    """Forget every compiled graph and the CUDA-graph memory pools (when the model they were made for goes); the
    compiled artefacts stay in the persistent cache."""
    global _compiled_any
    if not _compiled_any:
        return
    import gc

    torch.compiler.reset()
    _reset_cuda_graphs()
    if gc.isenabled():  # compiled modules sit in reference cycles until collected; under the window, its UI thread
        gc.collect()    # collects instead (ui/gui_thread_gc.py): here, in the worker, it could free Qt objects
    _compiled_any = False


# text-embedding cache ---------------------------------------------------------------------------------------------

_EMBEDDINGS: "weakref.WeakKeyDictionary[torch.nn.Module, OrderedDict]" = weakref.WeakKeyDictionary()


def _hashable(value: Any) -> Any:
    if isinstance(value, torch.device):
        return str(value)
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, torch.Tensor):
        raise TypeError("tensor")
    hash(value)
    return value


def _cache_key(pipe, arguments: dict) -> tuple | None:
    """Everything the embeddings depend on, or None when the call cannot be cached (embeddings passed in)."""
    key = []
    for name, value in arguments.items():
        if name.endswith("embeds") and value is not None:
            return None
        try:
            key.append((name, _hashable(value)))
        except TypeError:
            return None
    return tuple(key + _encoders_key(pipe))


def _encoders_key(pipe) -> list:
    """The text encoders and tokenizers a pipeline encodes with: which ones, their dtype and their LoRAs."""
    key = []
    for name in ("text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2"):
        part = getattr(pipe, name, None)
        key.append((name, id(part)))
        if isinstance(part, torch.nn.Module):
            first = next(part.parameters(), None)
            key.append((name + "_dtype", str(first.dtype) if first is not None else None))
            key.append((name + "_loras", _adapter_state(part)))
    return key


def _remember(cache: OrderedDict, key: tuple, compute):
    if key in cache:
        cache.move_to_end(key)
        return _clone_tensors(cache[key])
    result = compute()
    cache[key] = _clone_tensors(result)
    while len(cache) > EMBEDDING_CACHE_SIZE:
        cache.popitem(last=False)
    return result


def remember_embeddings(pipe, prompts: tuple, compute, clip_skip: int = 1, extra: tuple = ()):
    """`compute()` for embeddings Studio encodes itself (weighted prompts, engine/prompt_embeds.py), kept in the
    same cache as `encode_prompt`'s when the pipeline has the cache on, keyed on the prompt texts and the clip
    skip (A1111's numbering) and `extra` (the embedding files the prompts name). `encode_prompt`'s own key holds its
    `clip_skip` argument like all the others."""
    encoder = getattr(pipe, "text_encoder", None)
    if encoder is None or not getattr(getattr(pipe, "encode_prompt", None), "studio_cached", False):
        return compute()
    key = ("weighted prompts", prompts, ("clip_skip", clip_skip), ("embeddings", extra), *_encoders_key(pipe))
    return _remember(_EMBEDDINGS.setdefault(encoder, OrderedDict()), key, compute)


def cache_prompt_embeddings(pipe) -> None:
    """Make `pipe.encode_prompt` remember its results per text encoder, so variations, sweeps and repeated jobs
    with the same prompt encode it once (the cache lives as long as the text encoder)."""
    encoder = getattr(pipe, "text_encoder", None)
    original = getattr(pipe, "encode_prompt", None)
    if encoder is None or original is None or getattr(original, "studio_cached", False):
        return
    signature = inspect.signature(original)
    cache = _EMBEDDINGS.setdefault(encoder, OrderedDict())

    def encode_prompt(*args, **kwargs):
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError:
            return original(*args, **kwargs)
        bound.apply_defaults()
        key = _cache_key(pipe, bound.arguments)
        if key is None:
            return original(*args, **kwargs)
        return _remember(cache, key, lambda: original(*args, **kwargs))

    encode_prompt.studio_cached = True
    pipe.encode_prompt = encode_prompt


# warm-up ------------------------------------------------------------------------------------------------------------


def warm_up(model, steps: int = 2, force: bool = False) -> float:
    """Run the model's usual task once at its native size and batch 1, so that torch.compile compiles (or loads
    from the cache) the shape most jobs use before the first job asks for it. Call it in the worker thread after
    loading a model; returns the seconds it took (0 when nothing is compiled for this model, unless `force`)."""
    import time

    import numpy as np

    from studio.core.recipe import parse_recipe
    from studio.engine.task import TaskCall

    settings = speed_settings(model)
    if model.info.kind != "pipeline" or model.info.starter:
        return 0.0
    if not force and (settings.compile == "off" or model.device.type != "cuda"):
        return 0.0
    from studio.engine.inpaint import inpaint
    from studio.engine.sdedit import sdedit

    side = model.native_size
    picture = np.full((side, side, 3), 127, np.uint8)
    mask = np.zeros((side, side), np.uint8)
    mask[side // 4: 3 * side // 4, side // 4: 3 * side // 4] = 255
    task = "inpaint" if model.info.inpaint else "sdedit"
    recipe = parse_recipe({"task": task, "model": "warm-up", "image": "warm-up", "mask": "warm-up",
                           "steps": steps, "strength": 1.0, "prompt": "warm-up", "sampler": "euler"})
    call = TaskCall(model, recipe, picture, mask if task == "inpaint" else None, [0])
    start = time.perf_counter()
    (inpaint if task == "inpaint" else sdedit)(call)
    return time.perf_counter() - start
