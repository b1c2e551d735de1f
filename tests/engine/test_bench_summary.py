"""bench_summary turns the JSON of several `studio bench` runs into the README's tables: targets judged on all
runs together, the ablation rows, and the switches that won."""

import json

import pytest

from studio.engine import bench_summary
from tests.engine.test_bench import row


def report(cases, ablation=(), device="cuda", name="NVIDIA H100 80GB HBM3", command="studio bench …"):
    return {"environment": {"device": device, "device_name": name, "torch": "2.9", "diffusers": "0.42.1"},
            "command": command, "complete": True, "cases": list(cases), "ablation": list(ablation),
            "stock_dtype": "float16", "studio_dtype": "bfloat16"}


def ablation_row(variant, ms, vs):
    return {"variant": variant, "case": "inpaint", "family": "sd15", "dtype": "bfloat16", "warmup_s": 1.0,
            "ms_per_step": ms, "vs_defaults": vs, "agreement": {"psnr_db": 41.0}}


def test_targets_are_judged_on_the_runs_together():
    sd15 = report([row("sd15", "inpaint", 512, 30, 37.7, 11.0, {"per_step": 3.427, "pictures_per_s": 4.6})],
                  command="studio bench --family sd15")
    sdxl = report([row("sdxl", "inpaint", 1024, 30, 90.0, 70.0, {"per_step": 1.286})],
                  command="studio bench --family sdxl")
    big = report([row("sd_x4_upscaler", "upscale_4k", 4096, 5, None, 1.0, {})],
                 command="studio bench --cases upscale_4k")
    text = bench_summary.summary_markdown(bench_summary.merge([sd15, sdxl, big]))
    lines = [line for line in text.splitlines() if line.startswith("| SD") or line.startswith("| 4096")]
    assert [line.rsplit("|", 2)[1].strip() for line in lines] == ["met", "met", "**not met**", "met"]
    assert "| 37.7 ms/step | 11.0 ms/step |" in lines[0] and "| – | 3.20 GiB |" in lines[3]
    assert all(command in text for command in ("--family sd15", "--family sdxl", "--cases upscale_4k"))


def test_winning_switches_are_those_clearly_faster_than_the_defaults():
    rows = [ablation_row("defaults", 12.0, 1.0), ablation_row("compile=off", 30.0, 2.5),
            ablation_row("channels_last=off", 11.9, 0.992), ablation_row("fuse_qkv=on", 11.0, 0.917)]
    merged = bench_summary.merge([report([], rows)])
    assert [r["variant"] for r in bench_summary.winners(merged)] == ["fuse_qkv=on"]
    text = bench_summary.summary_markdown(merged)
    assert "`fuse_qkv=on` (0.917)" in text
    assert "| compile=off | sd15 inpaint | bfloat16 | 1.0 | 30.00 | 2.500 | 41.0 |" in text


def test_runs_from_different_machines_are_not_mixed():
    with pytest.raises(ValueError, match="different devices"):
        bench_summary.merge([report([]), report([], name="NVIDIA H200")])


def test_the_command_line_reads_real_bench_output(tmp_path, capsys):
    from tests.engine.test_bench import parser
    from studio.engine import bench

    out = tmp_path / "tiny.json"
    assert bench.command_bench(parser().parse_args(["bench", "--tiny", "--cases", "inpaint", "--json", str(out)])) == 0
    capsys.readouterr()
    assert bench_summary.main([str(out), "--markdown", str(tmp_path / "summary.md")]) == 0
    printed = capsys.readouterr().out
    assert "not measured" in printed and (tmp_path / "summary.md").read_text() == printed
    assert bench_summary.main([str(tmp_path / "missing.json")]) == 2
    (tmp_path / "bad.json").write_text(json.dumps({"cases": []}))
    assert bench_summary.main([str(tmp_path / "bad.json")]) == 2
