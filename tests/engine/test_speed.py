"""engine/speed.py: each switch changes the pictures by no more than a stated tolerance, CUDA-only switches skip
themselves elsewhere, switches convert modules both ways, and the text-embedding cache encodes a prompt once.

Stated tolerance, tiny random-weight models in float32 on the CPU, the same seed, optimized (channels_last, fused
QKV projections, embedding cache, VAE tiling, and the CUDA-only switches asked for but skipped) against stock
diffusers pipelines: at most MAX_ABS_DIFF levels of 255 on any pixel, and PSNR at least MIN_PSNR_DB.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from PIL import Image

from studio.core.errors import StudioError
from studio.core.recipe import parse_recipe
from studio.engine import speed
from studio.engine.jobs import inputs_from_arrays, run_recipe
from studio.engine.model_store import ModelStore
from studio.engine.speed import CANDIDATES, CUDA_DEFAULTS, OFF, SpeedSettings

MAX_ABS_DIFF = 2  # of 255
MIN_PSNR_DB = 50.0  # measured here: 0 or 1 level of difference, PSNR 89 dB or identical
OPTIMIZED = SpeedSettings(channels_last=True, fuse_qkv=True, embedding_cache=True, vae_tiling=True,
                          attention="flash", compile="reduce-overhead", compile_controlnet="default", cudnn_benchmark=True)


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # tests/conftest.py: tiny tensors, one thread


@pytest.fixture
def own_store():
    """A store of its own: the switches change the loaded modules in place."""
    return ModelStore(device=torch.device("cpu"), dtype=torch.float32)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = ((a.astype(float) - b.astype(float)) ** 2).mean()
    return float("inf") if mse == 0 else 10 * np.log10(255**2 / mse)


def picture(width=64, height=64):
    y, x = np.mgrid[0:height, 0:width]
    return np.stack([x * 4 % 256, y * 4 % 256, (x + y) * 2 % 256], axis=2).astype(np.uint8)


def box_mask(width=64, height=64):
    mask = np.zeros((height, width), np.uint8)
    mask[16:48, 16:48] = 255
    return mask


def run(store, recipe, settings, pixels, mask=None):
    model = store.get(recipe.model)
    model.extra["speed"] = settings
    return [r.pixels for r in run_recipe(recipe, store, inputs=inputs_from_arrays(pixels, mask))]


CASES = {
    "inpaint": ("sd1_inpaint", {"task": "inpaint", "mask": "m.png", "width": 64, "height": 64}),
    "sdedit": ("sd1", {"task": "sdedit", "strength": 0.8, "width": 64, "height": 64}),
    "controlnet": ("sd1", {"task": "controlnet", "width": 64, "height": 64}),
    "sdxl_inpaint": ("sdxl_inpaint", {"task": "inpaint", "mask": "m.png", "width": 64, "height": 64}),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_optimized_and_stock_pictures_agree_within_the_stated_tolerance(case, tiny_model, own_store):
    flavour, fields = CASES[case]
    data = {"model": str(tiny_model(flavour)), "image": "p.png", "prompt": "a red fox", "negative_prompt": "blurry",
            "steps": 3, "seed": 11, "sampler": "dpmpp_2m", "variations": 2, "batch_size": 2, **fields}
    if case == "controlnet":
        data["controlnets"] = [{"model": str(tiny_model("controlnet_sd1")), "preprocessor": "none"}]
    recipe = parse_recipe(data)
    mask = box_mask() if fields["task"] == "inpaint" else None
    stock = run(own_store, recipe, OFF, picture(), mask)
    optimized = run(own_store, recipe, OPTIMIZED, picture(), mask)
    unet = own_store.get(recipe.model).components["unet"]
    assert speed.applied(unet)["channels_last"] and speed.applied(unet)["attention"] == "fused default"
    for a, b in zip(stock, optimized):
        assert np.abs(a.astype(int) - b.astype(int)).max() <= MAX_ABS_DIFF
        assert psnr(a, b) >= MIN_PSNR_DB


def test_upscaler_agrees_within_the_stated_tolerance(tiny_model, own_store, tmp_path):
    recipe = parse_recipe({"task": "upscale", "model": str(tiny_model("upscaler")), "image": "p.png", "steps": 2,
                           "seed": 3, "sampler": "ddim", "prompt": "sharp"})
    stock = run(own_store, recipe, OFF, picture(24, 16))
    optimized = run(own_store, recipe, OPTIMIZED, picture(24, 16))
    assert np.abs(stock[0].astype(int) - optimized[0].astype(int)).max() <= MAX_ABS_DIFF


def pipeline(store, path, settings):
    from studio.engine.plugin_adapters import build_sampling_pipeline

    model = store.get(path)
    model.extra["speed"] = settings
    recipe = parse_recipe({"task": "sdedit", "model": str(path), "image": "p.png", "steps": 2, "seed": 1})
    return build_sampling_pipeline(model, "sdedit", recipe)


def test_cuda_only_switches_skip_themselves_on_the_cpu(tiny_model, own_store):
    from diffusers.models.attention_processor import AttnProcessor2_0

    pipe = pipeline(own_store, tiny_model("sd1"), OFF)
    report = speed.optimize_pipeline(pipe, CANDIDATES.replace(channels_last=False, fuse_qkv=False))
    unet = own_store.get(tiny_model("sd1")).components["unet"]
    assert report["compile"] == "skipped (cpu): reduce-overhead"
    assert report["cudnn_benchmark"].startswith("skipped (cpu)")
    assert getattr(unet, "_compiled_call_impl", None) is None
    assert {type(p) for p in unet.attn_processors.values()} == {AttnProcessor2_0}


@pytest.mark.timeout(600)
def test_compilation_without_cuda_graphs_runs_a_real_job_on_the_cpu(tiny_model, own_store):
    """The GPU's compile path, traced and compiled for real by torch.compile (inductor, C++ on the CPU) through
    the engine's pipelines and wrappers: the pictures match eager ones, and nothing fell back to eager."""
    recipe = parse_recipe({"task": "inpaint", "model": str(tiny_model("sd1_inpaint")), "image": "p.png",
                           "mask": "m.png", "steps": 2, "seed": 3, "sampler": "euler", "width": 64, "height": 64,
                           "prompt": "a door"})
    [eager] = run(own_store, recipe, OFF, picture(), box_mask())
    compiled_settings = OFF.replace(compile="default", compile_dynamic=False)
    assert speed.describe(compiled_settings, "cpu")["compile"] == "default"
    [compiled] = run(own_store, recipe, compiled_settings, picture(), box_mask())
    unet = own_store.get(recipe.model).components["unet"]
    assert speed.applied(unet)["compile"].startswith("default") and "compile_error" not in speed.applied(unet)
    assert np.abs(compiled.astype(int) - eager.astype(int)).max() <= MAX_ABS_DIFF


def test_defaults_are_off_on_the_cpu_and_on_for_cuda(monkeypatch):
    monkeypatch.delenv(speed.ENV_VAR, raising=False)
    assert speed.default_settings("cpu") == OFF
    assert speed.default_settings("cuda") == CUDA_DEFAULTS
    monkeypatch.setenv(speed.ENV_VAR, "compile=off, channels-last=0,attention=flash")
    assert speed.default_settings("cuda") == CUDA_DEFAULTS.replace(compile="off", channels_last=False, attention="flash")
    monkeypatch.setenv(speed.ENV_VAR, "compile=fastest")
    with pytest.raises(StudioError, match="compile"):
        speed.default_settings("cuda")
    with pytest.raises(StudioError, match="expected name=value"):
        OFF.with_text("turbo")
    assert OFF.with_text("compile_dynamic=auto,cudnn_benchmark=on").cudnn_benchmark is True


def test_offloading_models_are_never_compiled_or_converted(tiny_model, own_store):
    model = own_store.get(tiny_model("sd1"))
    model.extra["speed"] = CANDIDATES
    assert speed.speed_settings(model).compile == "reduce-overhead"
    model.memory_policy = "model_offload"
    assert speed.speed_settings(model).compile == "off"
    unet = model.components["unet"]
    unet._hf_hook = object()  # what accelerate's offload leaves on a module
    try:
        speed.optimize_models([("unet", unet)], torch.device("cpu"), OFF.replace(channels_last=True, fuse_qkv=True))
    finally:
        del unet._hf_hook
    assert not speed.applied(unet).get("channels_last")


def test_preferred_dtype():
    assert speed.preferred_dtype("cpu") == torch.float32
    assert speed.preferred_dtype("cuda", capability=(9, 0)) == torch.bfloat16  # Hopper
    assert speed.preferred_dtype("cuda", capability=(8, 6)) == torch.bfloat16  # Ampere
    assert speed.preferred_dtype("cuda", capability=(7, 5)) == torch.float16  # Turing: no fast bf16
    assert speed.preferred_dtype("mps") == torch.float16


def unet_output(unet):
    generator = torch.Generator().manual_seed(0)
    sample = torch.randn(2, unet.config.in_channels, 8, 8, generator=generator)
    text = torch.randn(2, 7, unet.config.cross_attention_dim, generator=generator)
    with torch.inference_mode():
        return unet(sample, 10, encoder_hidden_states=text).sample


def test_switches_convert_modules_both_ways(tiny_model, own_store):
    from diffusers.models.attention_processor import AttnProcessor2_0, FusedAttnProcessor2_0

    unet = own_store.get(tiny_model("sd1")).components["unet"]
    before = unet_output(unet)
    on = OFF.replace(channels_last=True, fuse_qkv=True)
    speed.optimize_models([("unet", unet)], torch.device("cpu"), on)
    assert unet.conv_in.weight.is_contiguous(memory_format=torch.channels_last)
    assert {type(p) for p in unet.attn_processors.values()} == {FusedAttnProcessor2_0}
    assert torch.allclose(unet_output(unet), before, atol=1e-5)
    speed.optimize_models([("unet", unet)], torch.device("cpu"), OFF)
    assert unet.conv_in.weight.is_contiguous()
    assert {type(p) for p in unet.attn_processors.values()} == {AttnProcessor2_0}
    assert torch.equal(unet_output(unet), before)


def test_embedding_cache_encodes_each_prompt_once(tiny_model, own_store):
    path = tiny_model("sd1")
    encoder = own_store.get(path).components["text_encoder"]
    calls = []
    hook = encoder.register_forward_hook(lambda module, args, output: calls.append(args[0].shape))
    try:
        plain = pipeline(own_store, path, OFF)
        image = Image.fromarray(picture())
        kwargs = dict(image=image, strength=1.0, num_inference_steps=2, output_type="np", negative_prompt="blurry")
        expected = plain(prompt="a fox", generator=torch.Generator().manual_seed(5), **kwargs).images
        calls.clear()
        for _ in range(2):  # a new pipeline for each job, as the engine builds them
            cached = pipeline(own_store, path, OFF.replace(embedding_cache=True))
            result = cached(prompt="a fox", generator=torch.Generator().manual_seed(5), **kwargs).images
            assert np.array_equal(result, expected)
        assert len(calls) == 2  # prompt and negative prompt, encoded by the first job only
        cached(prompt="a cat", generator=torch.Generator().manual_seed(5), **kwargs)
        assert len(calls) == 4  # the cache holds (prompt, negative prompt) pairs: a new pair is encoded
    finally:
        hook.remove()


def test_failed_compilation_runs_uncompiled_and_out_of_memory_propagates():
    import torch._dynamo.exc

    module = torch.nn.Linear(3, 2)
    x = torch.randn(4, 3)

    def broken(module, *args, **kwargs):
        raise torch._dynamo.exc.TorchDynamoException("no C compiler found")

    module._compiled_call_impl = speed.CompiledCall(module, broken, cudagraphs=False)
    assert torch.equal(module(x), module._call_impl(x))
    assert module._compiled_call_impl is None
    assert speed.applied(module)["compile_error"] == "no C compiler found"

    def capture_failed(module, *args, **kwargs):
        raise RuntimeError("CUDA error: operation not permitted when stream is capturing")

    module._compiled_call_impl = speed.CompiledCall(module, capture_failed, cudagraphs=True)
    assert torch.equal(module(x), module._call_impl(x)) and module._compiled_call_impl is None

    def out_of_memory(module, *args, **kwargs):
        raise torch._dynamo.exc.TorchDynamoException("CUDA out of memory. Tried to allocate 2.00 GiB")

    module._compiled_call_impl = speed.CompiledCall(module, out_of_memory, cudagraphs=False)
    with pytest.raises(RuntimeError, match="out of memory"):
        module(x)


def test_cuda_graph_outputs_are_handed_back_as_copies():
    module = torch.nn.Identity()
    static = torch.ones(3)
    module._compiled_call_impl = speed.CompiledCall(module, lambda m, *a, **k: (static, {"x": static}), cudagraphs=True)
    first, extra = module(torch.zeros(3))
    assert torch.equal(first, static) and first is not static and extra["x"] is not static


def test_compile_cache_lives_in_the_user_cache_folder(monkeypatch, tmp_path):
    import torch._dynamo
    from torch._inductor.runtime.cache_dir_utils import default_cache_dir

    monkeypatch.setenv("STUDIO_CACHE_DIR", str(tmp_path))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", default_cache_dir())
    with torch._dynamo.config.patch(recompile_limit=8):  # (pytest's monkeypatch cannot undo torch config)
        speed._prepare_compiler()
        assert torch._dynamo.config.recompile_limit >= speed.RECOMPILE_LIMIT
    assert speed.compile_cache_dir() == tmp_path / "torch-compile"
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "torch-compile")
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path / "mine"))  # a folder the user chose stays
    with torch._dynamo.config.patch(recompile_limit=8):
        speed._prepare_compiler()
    assert os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(tmp_path / "mine")
    speed.release_compiled()


def test_warm_up_does_nothing_without_compilation(tiny_model, own_store):
    assert speed.warm_up(own_store.get(tiny_model("sd1"))) == 0.0


@pytest.mark.parametrize("flavour", ["sd1", "sd1_inpaint", "starter_photo"])
def test_warm_up_runs_the_usual_task_through_the_engine(tiny_model, own_store, flavour):
    """What the worker runs after loading a model on a GPU with compilation on, here forced on the CPU."""
    took = speed.warm_up(own_store.get(tiny_model(flavour, "diffusers")), force=True)
    assert took == 0.0 if flavour == "starter_photo" else took > 0.0


def test_leaving_cuda_graphs_frees_their_memory_pools(monkeypatch, tmp_path):
    """After an out-of-memory error the engine offloads, and offloaded modules are uncompiled: the CUDA-graph
    pools must go too, or the lower memory policy cannot use that memory."""
    import torch._dynamo

    resets = []
    monkeypatch.setattr(speed, "_reset_cuda_graphs", lambda: resets.append(1))
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    module = torch.nn.Linear(2, 2)
    with torch._dynamo.config.patch(recompile_limit=8):
        speed._set_compiled(module, "reduce-overhead", OFF)
    assert isinstance(module._compiled_call_impl, speed.CompiledCall) and module._compiled_call_impl.cudagraphs
    module._hf_hook = object()  # model offload installed after the out-of-memory error
    speed.optimize_models([("unet", module)], torch.device("cpu"), OFF)
    assert module._compiled_call_impl is None and resets == [1]
    assert speed.applied(module)["compile"] == "off"
    speed.release_compiled()


def test_kernel_choice_runs_the_same_attention():
    """The `attention` switch only orders PyTorch's SDPA kernels (on CUDA); "math" runs on any device."""
    from diffusers.models.attention_processor import Attention, AttnProcessor2_0

    attn = Attention(32, heads=2, dim_head=16)
    x = torch.randn(1, 5, 32, generator=torch.Generator().manual_seed(0))
    expected = attn(x)
    attn.set_processor(speed.KernelChoice(AttnProcessor2_0(), "math"))
    assert torch.allclose(attn(x), expected, atol=1e-5)
