"""The evaluation script runs on a two-photo subset (the CI mode) and writes its JSON and Markdown table."""

from __future__ import annotations

import json

import numpy as np

from studio.train.__main__ import main
from studio.train.evaluate import box_mask, stroke_mask, summarize, verdicts, Case
from studio.train.metrics import gmsd, psnr, ssim


def test_evaluation_runs_on_a_subset_and_writes_its_tables(tmp_path, tiny_runs, photo_data, capsys):
    out_json, out_md = tmp_path / "eval.json", tmp_path / "eval.md"
    code = main(["evaluate", "--data", str(photo_data), "--photo", str(tiny_runs["unconditional"].model_dir),
                 "--sr", str(tiny_runs["sr"].model_dir), "--subset", "2", "--steps", "5", "--crops", "1",
                 "--sr-size", "32", "--samples", "1", "2", "--json", str(out_json), "--md", str(out_md),
                 "--examples", str(tmp_path)])
    assert code == 0
    report = json.loads(out_json.read_text())
    assert len(report["heldout_photos"]) == 2
    assert set(report["summary"]) == {"inpaint/box", "inpaint/strokes", "inpaint/all", "upscale"}
    inpaint = report["summary"]["inpaint/all"]["mean"]
    assert set(inpaint) == {"telea", "navier-stokes", "starter", "starter (mean of 2)"}
    assert set(report["summary"]["upscale"]["mean"]) == {"bicubic", "lanczos", "starter", "starter (mean of 2)"}
    assert all(np.isfinite(v) for method in inpaint.values() for v in method.values())
    table = out_md.read_text()
    for word in ("telea", "navier-stokes", "bicubic", "lanczos", "PSNR", "SSIM", "GMSD", "LPIPS"):
        assert word in table
    assert (tmp_path / "starter-inpaint-examples.png").is_file() and (tmp_path / "starter-sr-examples.png").is_file()
    assert "starter" in capsys.readouterr().out


def test_masks_cover_part_of_the_picture():
    rng = np.random.default_rng(0)
    for make in (box_mask, stroke_mask):
        for _ in range(20):
            covered = (make(rng, 128) > 0).mean()
            assert 0.005 < covered < 0.5


def test_metrics_rank_a_closer_picture_higher():
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 256, (48, 48, 3)).astype(np.uint8)
    near = np.clip(truth.astype(int) + rng.integers(-5, 6, truth.shape), 0, 255).astype(np.uint8)
    far = np.clip(truth.astype(int) + rng.integers(-60, 61, truth.shape), 0, 255).astype(np.uint8)
    assert psnr(truth, near) > psnr(truth, far) and ssim(truth, near) > ssim(truth, far)
    assert gmsd(truth, truth) == 0.0 and gmsd(truth, near) < gmsd(truth, far)
    region = np.zeros((48, 48), bool)
    region[:10] = True
    assert psnr(truth, truth, region) == float("inf")


def test_win_rates_count_lower_gmsd_as_better():
    cases = [Case("upscale", "a", 0, None, {"starter": {"psnr": 30.0, "gmsd": 0.1}, "bicubic": {"psnr": 29.0, "gmsd": 0.2}}),
             Case("upscale", "b", 0, None, {"starter": {"psnr": 28.0, "gmsd": 0.3}, "bicubic": {"psnr": 29.0, "gmsd": 0.2}})]
    summary = summarize(cases)["upscale"]
    assert summary["starter_win_rate"]["bicubic"] == {"psnr": 0.5, "gmsd": 0.5}
    assert summary["mean"]["starter"]["psnr"] == 29.0


def test_verdicts_judge_every_starter_variant_against_every_baseline():
    results = {"starter": {"psnr": 28.0}, "starter (mean of 4)": {"psnr": 30.0}, "lanczos": {"psnr": 29.0}}
    lines = verdicts(summarize([Case("upscale", "a", 0, None, results)]))
    assert lines == ["upscale: starter does NOT beat lanczos on psnr (28 vs 29)",
                     "upscale: starter (mean of 4) beats lanczos on psnr (30 vs 29)"]
