"""Several `studio bench` JSON files (one per device call) as the tables that go into the README and
docs/benchmarks/README.md: the issue's targets judged on all of them together, and the ablation rows with the
switches that won. Reads JSON only; nothing is measured here.

    python -m studio.engine.bench_summary docs/benchmarks/h100/*.json [--markdown summary.md]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

WIN_BELOW = 0.97  # a switch "wins" when it takes at most 97 % of the defaults' time per step (3 %: beyond noise)


def merge(reports: list[dict]) -> dict:
    """One report from several runs on the same machine: their cases and ablation rows, every command kept."""
    if not reports:
        raise ValueError("no bench reports given")
    devices = {r["environment"].get("device_name") for r in reports}
    if len(devices) > 1:
        raise ValueError(f"reports from different devices cannot be judged together: {sorted(devices)}")
    return {
        "environment": reports[0]["environment"],
        "commands": [r["command"] for r in reports],
        "complete": all(r.get("complete", False) for r in reports),
        "cases": [case for r in reports for case in r["cases"]],
        "ablation": [row for r in reports for row in r.get("ablation", [])],
        "stock_dtype": reports[0]["stock_dtype"],
        "studio_dtype": reports[0]["studio_dtype"],
    }


def _number(value, digits: int = 2, suffix: str = "") -> str:
    return "–" if value is None else f"{value:.{digits}f}{suffix}"


def _figures(merged: dict, target: str) -> tuple[str, str]:
    """(stock, Studio) as shown beside a target."""
    def case(family: str, name: str | None = None):
        return next((c for c in merged["cases"] if c["family"] == family and (name is None or c["case"] == name)
                     and (c.get("speedup") or {}).get("per_step")), None)

    if target.startswith("SD 1.5") and "variations" in target:
        row = case("sd15", "inpaint") or {}
        batch = lambda side: ((row.get(side) or {}).get("batch") or {}).get("pictures_per_s")  # noqa: E731
        return _number(batch("stock"), 2, " pictures/s"), _number(batch("studio"), 2, " pictures/s")
    if target.startswith("SD 1.5") or target.startswith("SDXL"):
        row = case("sd15", "inpaint") if target.startswith("SD 1.5") else case("sdxl")
        per_step = lambda side: ((row or {}).get(side) or {}).get("ms_per_step")  # noqa: E731
        return _number(per_step("stock"), 1, " ms/step"), _number(per_step("studio"), 1, " ms/step")
    peaks = {side: [c[side]["peak_gib"] for c in merged["cases"] if c["case"] in ("upscale_4k", "decode_4k")
                    and (c.get(side) or {}).get("peak_gib") is not None] for side in ("stock", "studio")}
    return (_number(min(peaks["stock"]) if peaks["stock"] else None, 2, " GiB"),
            _number(min(peaks["studio"]) if peaks["studio"] else None, 2, " GiB"))


def targets_markdown(merged: dict) -> str:
    import torch

    from studio.engine.bench import evaluate_targets

    targets = evaluate_targets(merged, torch.device(merged["environment"]["device"]))
    lines = ["| target (issue #8) | stock | Studio | measured | result |", "| --- | --- | --- | --- | --- |"]
    for target in targets:
        stock, studio = _figures(merged, target["target"])
        verdict = {True: "met", False: "**not met**", None: "not measured"}[target["met"]]
        measured = "–" if target["measured"] is None else f"{target['measured']:.3g} (limit {target['limit']})"
        lines.append(f"| {target['target']} | {stock} | {studio} | {measured} | {verdict} |")
    return "\n".join(lines)


def winners(merged: dict, below: float = WIN_BELOW) -> list[dict]:
    """Ablation variants that beat the defaults clearly, fastest first."""
    rows = [r for r in merged["ablation"] if r.get("vs_defaults") is not None and r["variant"] != "defaults"
            and r["vs_defaults"] <= below and not r.get("error")]
    return sorted(rows, key=lambda r: r["vs_defaults"])


def ablation_markdown(merged: dict) -> str:
    lines = ["| variant | case | dtype | warm-up s | ms/step | vs defaults | agrees (PSNR dB) |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for row in merged["ablation"]:
        agreement = (row.get("agreement") or {}).get("psnr_db", "–")
        lines.append(f"| {row['variant']} | {row['family']} {row['case']} | {row['dtype']} | "
                     f"{_number(row.get('warmup_s'), 1)} | {row.get('error') or _number(row.get('ms_per_step'))} | "
                     f"{_number(row.get('vs_defaults'), 3)} | {'identical' if agreement is None else agreement} |")
    return "\n".join(lines)


def summary_markdown(merged: dict) -> str:
    env = merged["environment"]
    parts = [f"On {env['device_name']} ({env['device']}), torch {env['torch']}, diffusers {env['diffusers']}; "
             f"stock {merged['stock_dtype']}, Studio {merged['studio_dtype']}.", "", targets_markdown(merged)]
    if merged["ablation"]:
        won = winners(merged)
        parts += ["", ablation_markdown(merged), "",
                  "Switches that win (≤ {:.0%} of the defaults' time per step): ".format(WIN_BELOW)
                  + (", ".join(f"`{r['variant']}` ({r['vs_defaults']:.3f})" for r in won) or "none")]
    parts += ["", "Commands:", ""] + [f"    {command}" for command in merged["commands"]]
    return "\n".join(parts) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m studio.engine.bench_summary", description=__doc__.split("\n\n")[0])
    parser.add_argument("reports", nargs="+", type=Path, help="studio bench JSON files")
    parser.add_argument("--markdown", type=Path, default=None, help="also write the summary here")
    args = parser.parse_args(argv)
    try:
        merged = merge([json.loads(path.read_text()) for path in args.reports])
    except (OSError, ValueError, KeyError) as error:
        print(f"bench_summary: {error}", file=sys.stderr)
        return 2
    text = summary_markdown(merged)
    print(text, end="")
    if args.markdown:
        args.markdown.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
