"""The DDPM training loop: it learns, it resumes exactly, it refuses a mismatched resumption."""

from __future__ import annotations

import json

import pytest
import torch

from studio.train.config import PRESETS, TrainConfig, load_config
from studio.train.data import PhotoCrops
from studio.train.trainer import build_unet, fixed_loss, train


def test_training_reduces_the_loss_on_the_tiny_cpu_config(tiny_runs, photo_data):
    config = PRESETS["tiny-cpu"]
    crops = PhotoCrops.from_folder(photo_data, config.crop_size)
    before = fixed_loss(build_unet(config), config, crops)
    after = fixed_loss(tiny_runs["unconditional"].unet, config, crops)
    assert after < 0.6 * before, (before, after)
    assert fixed_loss(tiny_runs["unconditional"].ema_unet, config, crops) < 0.8 * before


def test_super_resolution_training_reduces_the_loss(tiny_runs):
    losses = [loss for _, loss in tiny_runs["sr"].losses]
    assert losses[-1] < 0.6 * losses[0], losses


def test_a_run_writes_a_log_checkpoints_and_the_model(tiny_runs):
    result = tiny_runs["unconditional"]
    lines = [json.loads(line) for line in (result.out / "train-log.jsonl").read_text().splitlines()]
    assert lines[-1]["step"] == result.step == PRESETS["tiny-cpu"].max_steps
    assert {"loss", "lr", "images_per_s", "minutes"} <= set(lines[-1])
    assert sorted(p.name for p in (result.out / "checkpoints").glob("*.pt")) == ["step-0000020.pt", "step-0000040.pt"]
    assert (result.model_dir / "unet" / "diffusion_pytorch_model.safetensors").is_file()


def _state(module):
    return {k: v.clone() for k, v in module.state_dict().items()}


def test_resuming_from_a_checkpoint_equals_an_uninterrupted_run(tmp_path, photo_data):
    config = PRESETS["tiny-cpu"].with_overrides(max_steps=6, checkpoint_every=3, log_every=1)
    straight = train(config, photo_data, tmp_path / "straight", progress=False)
    train(config.with_overrides(max_steps=3), photo_data, tmp_path / "split", progress=False)
    resumed = train(config, photo_data, tmp_path / "split", progress=False)
    assert resumed.step == straight.step == 6
    for name, (a, b) in {"model": (straight.unet, resumed.unet), "ema": (straight.ema_unet, resumed.ema_unet)}.items():
        sa, sb = _state(a), _state(b)
        assert sa.keys() == sb.keys()
        assert all(torch.equal(sa[k], sb[k]) for k in sa), f"{name} weights differ after resuming"
    assert resumed.losses == straight.losses
    state_a = torch.load(tmp_path / "straight/checkpoints/step-0000006.pt", weights_only=True)
    state_b = torch.load(tmp_path / "split/checkpoints/step-0000006.pt", weights_only=True)
    exp_a = state_a["optimizer"]["state"][0]["exp_avg_sq"]
    assert torch.equal(exp_a, state_b["optimizer"]["state"][0]["exp_avg_sq"])


def test_resuming_with_other_settings_is_refused(tmp_path, photo_data):
    config = PRESETS["tiny-cpu"].with_overrides(max_steps=2, checkpoint_every=2)
    train(config, photo_data, tmp_path, progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        train(config.with_overrides(batch_size=3, max_steps=4), photo_data, tmp_path, progress=False)


def test_a_run_can_go_on_at_a_lower_learning_rate(tmp_path, photo_data):
    config = PRESETS["tiny-cpu"].with_overrides(max_steps=2, checkpoint_every=2, log_every=1, warmup_steps=0)
    train(config, photo_data, tmp_path, progress=False)
    train(config.with_overrides(learning_rate=config.learning_rate / 4, max_steps=4), photo_data, tmp_path,
          progress=False)
    rates = [json.loads(line)["lr"] for line in (tmp_path / "train-log.jsonl").read_text().splitlines()]
    assert rates[:2] == [config.learning_rate] * 2 and rates[2:] == [config.learning_rate / 4] * 2


def test_configs_round_trip_through_json(tmp_path):
    for name, config in PRESETS.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(config.to_json()))
        assert load_config(str(path)) == config
    with pytest.raises(ValueError, match="unknown config fields"):
        TrainConfig.from_json({**PRESETS["tiny-cpu"].to_json(), "learning_rat": 1})
    with pytest.raises(ValueError, match="multiple"):
        PRESETS["tiny-cpu"].with_overrides(crop_size=15)


def test_starter_presets_are_a_few_tens_of_megabytes_at_most():
    for name in ("starter", "starter-sr"):
        with torch.device("meta"):
            unet = build_unet(PRESETS[name])
        parameters = sum(p.numel() for p in unet.parameters())
        assert 5e6 < parameters < 12e6, (name, parameters)  # 10-24 MB as fp16
