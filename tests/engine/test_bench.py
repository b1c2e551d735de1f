"""`studio bench --tiny` runs end to end on the CPU and writes JSON holding every case and field; the parser,
the targets and the bundled ×4 upscaler config. (Speed itself is measured on a GPU, never in a test.)"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys

import pytest

from studio.engine import bench

CASE_FIELDS = ("warmup_s", "total_ms", "runs_ms", "peak_gib")
STEP_FIELDS = ("ms_per_step", "steps_run")
BATCH_FIELDS = ("pictures", "total_s", "pictures_per_s", "peak_gib", "forward_batch")


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="studio")
    bench.add_bench_parser(root.add_subparsers(dest="command"))
    return root


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    out = tmp_path_factory.mktemp("bench") / "results" / "tiny.json"
    args = parser().parse_args(["bench", "--tiny", "--json", str(out), "--ablate", "channels_last,embedding_cache"])
    assert bench.command_bench(args) == 0
    return json.loads(out.read_text()), out


def test_tiny_bench_writes_every_case_and_field(tiny_report):
    report, _ = tiny_report
    assert report["command"].startswith("studio bench --family sd15 --cases inpaint,sdedit,controlnet,upscale")
    for name in ("device", "device_name", "torch", "diffusers", "transformers", "python", "studio", "date"):
        assert report["environment"][name]
    assert report["stock_dtype"] == report["studio_dtype"] == "float32"
    assert report["studio_settings"]["compile"] == "off"  # the CPU runs everything off
    cases = {row["case"]: row for row in report["cases"]}
    assert set(cases) == set(bench.ALL_CASES)
    for name, row in cases.items():
        for side in ("stock", "studio"):
            part = row[side]
            assert "error" not in part, (name, side, part)
            assert all(field in part for field in CASE_FIELDS), (name, side)
            assert part["peak_gib"] is None  # no GPU memory on the CPU
            if name != "decode_4k":
                assert all(part[field] > 0 for field in STEP_FIELDS), (name, side)
        assert row["agreement"], name
    for name in bench.SAMPLING_CASES:
        row = cases[name]
        for side in ("stock", "studio"):
            assert all(field in row[side]["batch"] for field in BATCH_FIELDS)
            assert row[side]["batch"]["pictures"] == 2
        assert row["studio"]["batch"]["forward_batch"] == 2  # Studio runs the variations as one batch
        assert row["stock"]["batch"]["forward_batch"] == 1  # stock, one after another
        assert set(row["speedup"]) == {"per_step", "pictures_per_s"}
        assert row["studio"]["task_switch_ms"] > 0
        same = row["agreement"]["same_dtype"]
        assert same["within"] and same["tolerance_psnr_db"] == bench.TOLERANCE_PSNR_DB
    assert cases["sdedit"]["studio"]["steps_run"] == cases["sdedit"]["stock"]["steps_run"] == 1  # 2 steps × 0.75
    assert cases["upscale_4k"]["width"] == 128 and "tiled_vs_whole" in cases["upscale_4k"]["agreement"]


def test_tiny_bench_ablates_each_switch_alone(tiny_report):
    report, _ = tiny_report
    variants = [row["variant"] for row in report["ablation"]]
    assert variants == ["defaults", "channels_last=on", "embedding_cache=on"]
    for row in report["ablation"]:
        assert row["ms_per_step"] > 0 and row["vs_defaults"] > 0 and row["agreement"]["within"]
    assert report["ablation"][1]["settings"]["channels_last"] is True


def test_tiny_bench_reports_targets_as_not_measured_off_the_gpu(tiny_report, capsys):
    report, path = tiny_report
    assert len(report["targets"]) == 4
    assert all(target["met"] is None for target in report["targets"])
    assert path.read_text().count("NaN") == 0


def test_command_round_trips_through_the_parser():
    args = parser().parse_args(["bench", "--family", "sd15", "sdxl", "--cases", "inpaint,decode_4k", "--set",
                                "compile=default", "--ablate", "--batch", "0"])
    options = bench.options_from_args(args)
    assert options.families == ("sd15", "sdxl") and options.cases == ("inpaint", "decode_4k")
    assert (options.steps, options.repeats, options.side_4k, options.batch) == (30, 3, 4096, 0)
    assert options.ablate == ("all",)
    again = bench.options_from_args(parser().parse_args(shlex.split(options.command())[1:]))
    assert again == options


def test_bad_names_are_refused():
    with pytest.raises(SystemExit):
        parser().parse_args(["bench", "--cases", "inpaint,outpaint"])
    with pytest.raises(SystemExit):
        parser().parse_args(["bench", "--ablate", "turbo"])


def test_ablation_flips_one_switch_at_a_time():
    import torch

    from studio.engine.speed import CANDIDATES

    variants = bench.ablation_variants(CANDIDATES, torch.bfloat16, ("all",), "inpaint")
    labels = [label for label, _, _ in variants]
    assert labels[0] == "defaults"
    assert {"compile=off", "compile=default", "channels_last=off", "fuse_qkv=off", "attention=flash",
            "attention=cudnn", "dtype=float16", "embedding_cache=off", "compile_tuning=on"} <= set(labels)
    assert not any(label.startswith(("compile_controlnet", "vae_tiling")) for label in labels)
    controlnet = bench.ablation_variants(CANDIDATES, torch.bfloat16, ("all",), "controlnet")
    assert "compile_controlnet=off" in [label for label, _, _ in controlnet]
    for label, settings, dtype in variants[1:]:
        changed = {k for k, v in settings.to_dict().items() if v != CANDIDATES.to_dict()[k]}
        assert len(changed) + (dtype != torch.bfloat16) == 1, label


def row(family, case, width, steps, stock, studio, speedup, batch=8):
    return {"family": family, "case": case, "width": width, "steps": steps,
            "stock": {"ms_per_step": stock}, "studio": {"ms_per_step": studio, "batch": {"pictures": batch},
                                                        "peak_gib": 3.2}, "speedup": speedup}


def test_targets_are_judged_from_the_figures():
    import torch

    report = {"cases": [
        row("sd15", "inpaint", 512, 30, 37.7, 11.0, {"per_step": 3.427, "pictures_per_s": 4.6}),
        row("sdxl", "inpaint", 1024, 30, 90.0, 70.0, {"per_step": 1.286}),
        row("sd_x4_upscaler", "upscale_4k", 4096, 5, None, 1.0, {}),
    ]}
    met = [t["met"] for t in bench.evaluate_targets(report, torch.device("cuda"))]
    assert met == [True, True, False, True]
    assert [t["met"] for t in bench.evaluate_targets(report, torch.device("cpu"))] == [None] * 4


def test_the_bench_module_imports_no_torch():
    """The CLI imports it to build its parser: `studio --help` and the window must not wait for torch."""
    code = "import sys, studio.engine.bench; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_bundled_x4_upscaler_config_builds_the_real_architecture():
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel

    from studio.engine.bench_models import read_config

    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(read_config("sd_x4_upscaler", "unet"))
        vae = AutoencoderKL.from_config(read_config("sd_x4_upscaler", "vae"))
    assert sum(p.numel() for p in unet.parameters()) == 473_398_020
    assert sum(p.numel() for p in vae.parameters()) == 55_325_927
    assert unet.config.in_channels == 7 and unet.config.num_class_embeds == 1000
    assert 2 ** (len(vae.config.block_out_channels) - 1) == 4  # the ×4 upscaler's VAE scale
