"""LoRAs through the job path with tiny real models and tiny real LoRA files (diffusers and kohya/A1111 layouts):
weights, several at once, no leak into later jobs, files read once, clear errors that leave the model usable."""

import collections

import numpy as np
import pytest
import torch

from studio.core.errors import ModelError, RecipeError, StudioError
from studio.core.metadata import ResultMetadata, read_metadata, read_parameters, write_png
from studio.core.recipe import parse_recipe
from studio.engine import loras as loras_module
from studio.engine.jobs import run_recipe
from studio.engine.model_store import ModelStore
from studio.engine.speed import SpeedSettings, speed_settings
from tests.fixtures.pictures import write_picture
from tests.fixtures.tiny_loras import save_diffusers_lora, save_kohya_lora

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def lora_store():
    """A store of its own: the LoRAs these tests load stay off the models other test files share."""
    return ModelStore(device=torch.device("cpu"), dtype=torch.float32)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("loras")
    return {
        "ink": save_diffusers_lora("sd1", folder / "ink.safetensors", seed=1),
        "ink_kohya": save_kohya_lora("sd1", folder / "ink_kohya.safetensors", seed=1),
        "rain": save_diffusers_lora("sd1", folder / "rain.safetensors", seed=2),
        "words": save_diffusers_lora("sd1", folder / "words.safetensors", seed=3, parts=("text_encoder",)),
        "xl": save_diffusers_lora("sdxl", folder / "xl.safetensors", seed=4),
        "xl_unet": save_diffusers_lora("sdxl", folder / "xl_unet.safetensors", seed=4, parts=("unet",)),
        "picture": write_picture(folder / "picture.png", 64, 64),
    }


@pytest.fixture
def sdedit(tiny_model, files):
    def recipe(*loras, **changes):
        fields = {"task": "sdedit", "model": str(tiny_model("sd1")), "image": str(files["picture"]), "prompt": "ink",
                  "steps": 2, "strength": 0.6, "seed": 3, "sampler": "euler", "width": 64, "height": 64,
                  "loras": [{"path": str(files[name]), "weight": weight} for name, weight in loras]}
        return parse_recipe({**fields, **changes})

    return recipe


def pixels(recipe, store):
    return run_recipe(recipe, store)[0].pixels


@pytest.fixture
def reads(monkeypatch):
    """The LoRA files read from disk, in order."""
    seen = []
    original = loras_module.load_file

    def counted(path, *args, **kwargs):
        seen.append(path)
        return original(path, *args, **kwargs)

    monkeypatch.setattr(loras_module, "load_file", counted)
    return seen


def test_weights_apply_and_nothing_leaks_into_later_jobs(lora_store, sdedit, files, reads):
    base = pixels(sdedit(), lora_store)
    assert np.array_equal(pixels(sdedit(("ink", 0.0)), lora_store), base), "weight 0 is the base model"
    full = pixels(sdedit(("ink", 1.0)), lora_store)
    assert not np.array_equal(full, base)
    half = pixels(sdedit(("ink", 0.5)), lora_store)
    assert not np.array_equal(half, full) and not np.array_equal(half, base)
    assert np.array_equal(pixels(sdedit(), lora_store), base), "the job after a LoRA job is the base model's, bit for bit"
    assert np.array_equal(pixels(sdedit(("ink", 1.0)), lora_store), full), "and the LoRA comes back as it was"
    assert reads == [str(files["ink"])], "read once; a new weight reloads nothing"


def test_two_loras_combine(lora_store, sdedit):
    ink = pixels(sdedit(("ink", 1.0)), lora_store)
    rain = pixels(sdedit(("rain", 1.0)), lora_store)
    both = pixels(sdedit(("ink", 1.0), ("rain", 1.0)), lora_store)
    assert not np.array_equal(both, ink) and not np.array_equal(both, rain)
    assert np.array_equal(pixels(sdedit(("ink", 1.0), ("rain", 0.0)), lora_store), ink)


def test_a_kohya_a1111_file_is_the_same_lora_as_its_diffusers_twin(lora_store, sdedit):
    assert np.array_equal(pixels(sdedit(("ink_kohya", 0.7)), lora_store), pixels(sdedit(("ink", 0.7)), lora_store))


def test_text_encoder_loras_with_cached_embeddings_and_fused_projections(tiny_model, sdedit, lora_store):
    """The speed switches that keep state between jobs: the prompt-embedding cache must not hand a LoRA job the
    base embeddings (or the reverse), and fused q/k/v projections must not skip a LoRA."""
    plain = {name: pixels(sdedit(*loras), lora_store) for name, loras in
             (("base", ()), ("words", [("words", 1.0)]), ("ink", [("ink", 1.0)]))}
    assert not np.array_equal(plain["words"], plain["base"]), "a LoRA of the text encoder alone changes the picture"
    fast = ModelStore(device=torch.device("cpu"), dtype=torch.float32)
    model = fast.get(tiny_model("sd1"))
    model.extra["speed"] = SpeedSettings(embedding_cache=True, fuse_qkv=True)
    base = pixels(sdedit(), fast)
    assert np.array_equal(pixels(sdedit(("words", 1.0)), fast), plain["words"])
    assert np.array_equal(pixels(sdedit(("ink", 1.0)), fast), plain["ink"])
    assert not speed_settings(model).fuse_qkv, "not fused while a LoRA is on"
    assert np.array_equal(pixels(sdedit(), fast), base)
    assert speed_settings(model).fuse_qkv


def test_a_lora_for_another_model_fails_clearly_and_the_model_stays_usable(lora_store, sdedit, files):
    base = pixels(sdedit(), lora_store)
    with pytest.raises(ModelError) as caught:
        run_recipe(sdedit(("xl_unet", 1.0)), lora_store)
    message = str(caught.value)
    assert message.startswith("LoRA xl_unet.safetensors does not fit sd1 (SD 1.x): layer ") and "\n" not in message
    assert "has shape [4, 32] in the model but [4, 64] in the file (a LoRA for another model family?)" in message
    with pytest.raises(ModelError, match="LoRA xl.safetensors was made for SDXL models; sd1 is SD 1.x"):
        run_recipe(sdedit(("xl", 1.0)), lora_store)  # its second text encoder says so
    assert np.array_equal(pixels(sdedit(), lora_store), base)
    assert not np.array_equal(pixels(sdedit(("ink", 1.0)), lora_store), base), "other LoRAs still load"
    model = lora_store.get(sdedit().model)
    assert all("xl" not in name for name in model.extra["loras"].adapters.values())


def test_a_lora_with_layers_the_model_lacks_is_refused(lora_store, sdedit, files, tmp_path):
    from safetensors.torch import load_file, save_file

    state = load_file(str(files["rain"]))
    state["unet.down_blocks.7.attentions.0.proj_in.lora_A.weight"] = torch.ones(4, 32)
    state["unet.down_blocks.7.attentions.0.proj_in.lora_B.weight"] = torch.ones(32, 4)
    save_file(state, str(tmp_path / "partial.safetensors"))
    base = pixels(sdedit(), lora_store)
    recipe = sdedit().replace(loras=[{"path": str(tmp_path / "partial.safetensors")}])
    with pytest.raises(ModelError, match=r"partial.safetensors does not fit .*1 of its \d+ unet layers match no layer"):
        run_recipe(recipe, lora_store)
    assert np.array_equal(pixels(sdedit(), lora_store), base)


def test_a_lora_of_parts_no_stable_diffusion_model_has_is_refused(lora_store, sdedit, tmp_path):
    from safetensors.torch import save_file

    save_file({"transformer.blocks.0.attn.to_q.lora_A.weight": torch.zeros(4, 32),
               "transformer.blocks.0.attn.to_q.lora_B.weight": torch.zeros(32, 4)}, str(tmp_path / "flux.safetensors"))
    recipe = sdedit().replace(loras=[{"path": str(tmp_path / "flux.safetensors")}])
    with pytest.raises(ModelError, match="flux.safetensors does not fit sd1 .*: it adapts 'transformer', which the model"):
        run_recipe(recipe, lora_store)


def test_a_lora_made_for_another_family_is_named_from_its_shapes(lora_store, sdedit, tmp_path):
    from safetensors.torch import save_file

    key = "lora_unet_down_blocks_1_attentions_0_transformer_blocks_0_attn2_to_k"
    save_file({f"{key}.lora_down.weight": torch.zeros(4, 2048), f"{key}.lora_up.weight": torch.zeros(640, 4)},
              str(tmp_path / "big.safetensors"))
    recipe = sdedit().replace(loras=[{"path": str(tmp_path / "big.safetensors")}])
    with pytest.raises(ModelError, match="big.safetensors was made for SDXL models; sd1 is SD 1.x"):
        run_recipe(recipe, lora_store)


def test_files_that_are_no_usable_lora(lora_store, sdedit, tiny_model, tmp_path, files):
    def error_for(path, **lora):
        with pytest.raises(StudioError) as caught:
            run_recipe(sdedit().replace(loras=[{"path": str(path), **lora}]), lora_store)
        return str(caught.value)

    assert error_for(tmp_path / "gone.safetensors") == (
        f"recipe field 'loras[0].path': no such file: {tmp_path / 'gone.safetensors'}")
    assert "sd1.safetensors is not a LoRA: it holds a Stable Diffusion checkpoint" in error_for(tiny_model("sd1"))
    (tmp_path / "junk.safetensors").write_bytes(b"not a safetensors file at all")
    assert "cannot read the LoRA junk.safetensors" in error_for(tmp_path / "junk.safetensors")
    twin = tmp_path / "twin.safetensors"
    twin.symlink_to(files["ink"])
    recipe = sdedit(("ink", 1.0)).replace(loras=[{"path": str(files["ink"])}, {"path": str(twin)}])
    with pytest.raises(RecipeError, match=r"'loras\[1\].path': is the same file as loras\[0\]"):
        run_recipe(recipe, lora_store)


def test_only_the_most_recent_loras_stay_loaded(sdedit, files, reads, monkeypatch):
    monkeypatch.setattr(loras_module, "MAX_ADAPTERS", 1)
    fresh = ModelStore(device=torch.device("cpu"), dtype=torch.float32)
    rain = pixels(sdedit(("rain", 1.0)), fresh)
    pixels(sdedit(("ink", 1.0)), fresh)
    assert np.array_equal(pixels(sdedit(("rain", 1.0)), fresh), rain)
    assert len(fresh.get(sdedit().model).extra["loras"].adapters) == 1
    assert reads == [str(files["rain"]), str(files["ink"]), str(files["rain"])]
    both = sdedit(("rain", 1.0), ("ink", 1.0))
    assert not np.array_equal(pixels(both, fresh), rain), "a job's own LoRAs are never dropped for room"


def test_a_lora_picture_reproduces_from_its_png(lora_store, sdedit, tmp_path):
    [result] = run_recipe(sdedit(("ink", 0.8), ("rain", -0.5)), lora_store)
    write_png(tmp_path / "out.png", result.pixels, result.metadata)
    meta = read_metadata(tmp_path / "out.png")
    assert meta.recipe.loras == result.metadata.recipe.loras and "lora1" in meta.hashes
    text = read_parameters(tmp_path / "out.png")
    assert "<lora:ink:0.8> <lora:rain:-0.5>" in text.splitlines()[0]
    assert f'Lora hashes: "ink: {meta.hashes["lora0"][:12]}, rain: {meta.hashes["lora1"][:12]}"' in text
    assert isinstance(meta, ResultMetadata)
    assert np.array_equal(pixels(meta.recipe, lora_store), result.pixels)


def test_starter_models_refuse_loras(tiny_model, store, files):
    recipe = parse_recipe({"task": "sdedit", "model": str(tiny_model("starter_photo")), "image": str(files["picture"]),
                           "steps": 2, "strength": 0.5, "loras": [{"path": str(files["ink"])}]})
    with pytest.raises(StudioError, match="LoRAs adapt Stable Diffusion models; the starter model .* cannot use them"):
        run_recipe(recipe, store)


def test_sdxl_takes_loras_for_its_unet_and_both_text_encoders(tiny_model, lora_store, files):
    recipe = parse_recipe({"task": "sdedit", "model": str(tiny_model("sdxl")), "image": str(files["picture"]),
                           "prompt": "ink", "steps": 2, "strength": 0.6, "seed": 3, "sampler": "euler",
                           "width": 64, "height": 64})
    base = pixels(recipe, lora_store)
    with_lora = pixels(recipe.replace(loras=[{"path": str(files["xl"])}]), lora_store)
    assert not np.array_equal(with_lora, base)
    from safetensors import safe_open

    with safe_open(str(files["xl"]), "pt") as handle:
        in_file = collections.Counter(key.split(".")[0] for key in handle.keys() if key.endswith("lora_A.weight"))
    model = lora_store.get(recipe.model)
    loaded = loras_module._loaded_layers(model, next(iter(model.extra["loras"].adapters.values())))
    assert loaded == dict(in_file) and set(loaded) == {"unet", "text_encoder", "text_encoder_2"}
    assert np.array_equal(pixels(recipe, lora_store), base)


def test_a_peft_too_old_for_transformers_is_named_not_blamed_on_the_lora(lora_store, sdedit, files, tmp_path,
                                                                          monkeypatch):
    import importlib.metadata

    from transformers.integrations import peft as transformers_peft

    fresh = sdedit().replace(loras=[{"path": str(save_diffusers_lora("sd1", tmp_path / "fresh.safetensors", seed=9))}])
    real_version = importlib.metadata.version
    monkeypatch.setattr(transformers_peft, "MIN_PEFT_VERSION", "99.0")
    monkeypatch.setattr(importlib.metadata, "version", lambda name: "0.21.2" if name == "peft" else real_version(name))
    with pytest.raises(ModelError, match=r"LoRAs need peft >= 99\.0 with transformers .*peft 0\.21\.2 is installed"):
        pixels(fresh, lora_store)
    monkeypatch.undo()
    assert not np.array_equal(pixels(fresh, lora_store), pixels(sdedit(), lora_store))  # the model stays usable


def test_a_batch_sweeps_lora_weight_and_clip_skip_and_names_files_by_them(lora_store, sdedit, files, tmp_path):
    from PIL import Image

    from studio.core.export import ExportSettings
    from studio.engine.batch import run_batch

    recipe = sdedit(("ink", 1.0)).replace(sweep={"lora_weight": [0.0, 1.5], "clip_skip": [1, 2]})
    written = run_batch(recipe, lora_store, ExportSettings(tmp_path / "out", "w{lora_weight:g}-skip{clip_skip}"))
    assert [path.name for path in written] == ["w0-skip1.png", "w0-skip2.png", "w1.5-skip1.png", "w1.5-skip2.png"]
    made = {path.stem: np.asarray(Image.open(path)) for path in written}
    assert np.array_equal(made["w0-skip1"], pixels(sdedit(), lora_store)), "weight 0 is the base model"
    assert len({picture.tobytes() for picture in made.values()}) == 4
    again = read_metadata(written[3]).recipe
    assert again.loras[0].weight == 1.5 and again.clip_skip == 2
    assert np.array_equal(pixels(again, lora_store), made["w1.5-skip2"])
