"""Measure the starter models on the held-out photos against the classical methods.

Inpainting: crops of each held-out photo at the photo model's native size (sampled like the training crops),
each with a box mask and a brush-stroke mask; the starter model against OpenCV's Telea and Navier-Stokes
inpainting. Super-resolution: crops at the photo's stored resolution, reduced by the model's scale with
Pillow's bicubic filter; the starter model against Pillow's bicubic and Lanczos upscaling.

Metrics: PSNR (inpainting: over the hole, and over the picture), SSIM, GMSD (metrics.py). LPIPS is not
reported: it needs pretrained network weights that cannot be downloaded here.

Writes a JSON file (every case, every number) and a Markdown report with the tables.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from studio.train.data import HELDOUT, PhotoCrops, load_photos
from studio.train.sources import PERMISSIVE
from studio.train.metrics import gmsd, psnr, ssim
from studio.train.ops import from_unit

HIGHER_IS_BETTER = {"psnr_hole": True, "psnr": True, "ssim": True, "gmsd": False}
LABELS = {"psnr_hole": "PSNR hole (dB) ↑", "psnr": "PSNR (dB) ↑", "ssim": "SSIM ↑", "gmsd": "GMSD ↓"}


def box_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    mask = np.zeros((size, size), np.uint8)
    h, w = (rng.uniform(0.2, 0.45, 2) * size).astype(int)
    top, left = rng.integers(0, size - h), rng.integers(0, size - w)
    mask[top:top + h, left:left + w] = 255
    return mask


def stroke_mask(rng: np.random.Generator, size: int) -> np.ndarray:
    """One to three brush strokes, like a person painting over wires or a small object."""
    picture = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(picture)
    for _ in range(rng.integers(1, 4)):
        points = [tuple(int(v) for v in rng.uniform(0.1, 0.9, 2) * size) for _ in range(rng.integers(2, 5))]
        width = max(2, int(rng.uniform(size / 20, size / 10)))
        draw.line(points, fill=255, width=width, joint="curve")
        for x, y in points:
            draw.ellipse((x - width // 2, y - width // 2, x + width // 2, y + width // 2), fill=255)
    return np.asarray(picture)


def telea(picture: np.ndarray, mask: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.inpaint(picture, (mask > 0).astype(np.uint8), 3, cv2.INPAINT_TELEA)


def navier_stokes(picture: np.ndarray, mask: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.inpaint(picture, (mask > 0).astype(np.uint8), 3, cv2.INPAINT_NS)


def pil_upscale(picture: np.ndarray, scale: int, method) -> np.ndarray:
    image = Image.fromarray(picture)
    return np.asarray(image.resize((image.width * scale, image.height * scale), method))


@dataclass
class Case:
    task: str
    photo: str
    index: int
    mask: str | None
    results: dict[str, dict[str, float]]


def _showable(record) -> bool:
    """Example sheets are committed to docs/: only crops of photos with permissive licences go in them."""
    return record.licence_class == PERMISSIVE


def inpaint_inputs(photos, size: int, crops_per_photo: int, seed: int):
    """The inpainting cases, in order: (record, crop index, mask kind, truth crop, mask) for a box and a stroke mask
    on each crop of each photo (probes in docs/starter-pilot/ draw the same ones)."""
    for p, (record, picture) in enumerate(photos):
        if min(picture.shape[:2]) < size:
            continue
        sampler = PhotoCrops([picture], size)
        for c in range(crops_per_photo):
            rng = np.random.default_rng([seed, p, c])
            truth = from_unit(sampler.sample(1, rng))
            for kind, make in (("box", box_mask), ("strokes", stroke_mask)):
                mask = make(rng, size)
                region = mask > 0
                if not region.all() and region.any():
                    yield record, c, kind, truth, mask


def sr_inputs(photos, scale: int, multiple: int, crops_per_photo: int, seed: int, hr_size: int):
    """The super-resolution cases, in order: (record, crop index, truth crop, its bicubic reduction by `scale`)."""
    step = scale * multiple
    for p, (record, picture) in enumerate(photos):
        side = min(hr_size, min(picture.shape[:2])) // step * step
        if side < step:
            continue
        for c in range(crops_per_photo):
            rng = np.random.default_rng([seed, p, c, 1])
            top = rng.integers(0, picture.shape[0] - side + 1)
            left = rng.integers(0, picture.shape[1] - side + 1)
            truth = np.ascontiguousarray(picture[top:top + side, left:left + side])
            low = np.asarray(Image.fromarray(truth).resize((side // scale, side // scale), Image.Resampling.BICUBIC))
            yield record, c, truth, low


def _inpaint_cases(model, photos, crops_per_photo, steps, seed, samples, examples):
    from studio.train import starter_inference as si

    cases = []
    for record, c, kind, truth, mask in inpaint_inputs(photos, model.native_size, crops_per_photo, seed):
        region = mask > 0
        outputs = {"telea": telea(truth, mask), "navier-stokes": navier_stokes(truth, mask)}
        for k in samples:
            name = "starter" if k == 1 else f"starter (mean of {k})"
            outputs[name] = si.inpaint(model, truth, mask, steps=steps, seed=seed + c, samples=k)
        results = {name: {"psnr_hole": psnr(truth, out, region), "psnr": psnr(truth, out),
                          "ssim": ssim(truth, out), "gmsd": gmsd(truth, out)} for name, out in outputs.items()}
        cases.append(Case("inpaint", record.id, c, kind, results))
        if examples is not None and len(examples) < 6 and _showable(record):
            shown = truth.copy()
            shown[region] = (shown[region] * 0.3 + np.array([255, 0, 255]) * 0.7).astype(np.uint8)
            examples.append([shown] + list(outputs.values()) + [truth])
    return cases


def _sr_cases(model, photos, crops_per_photo, steps, seed, hr_size, examples, samples=(1,)):
    from studio.train import starter_inference as si

    scale = int(model.scale)
    cases = []
    for record, c, truth, low in sr_inputs(photos, scale, model.multiple, crops_per_photo, seed, hr_size):
        outputs = {"bicubic": pil_upscale(low, scale, Image.Resampling.BICUBIC),
                   "lanczos": pil_upscale(low, scale, Image.Resampling.LANCZOS)}
        for k in samples:
            name = "starter" if k == 1 else f"starter (mean of {k})"
            outputs[name] = si.upscale(model, low, steps=steps, seed=seed + c, samples=k)
        results = {name: {"psnr": psnr(truth, out), "ssim": ssim(truth, out), "gmsd": gmsd(truth, out)}
                   for name, out in outputs.items()}
        cases.append(Case("upscale", record.id, c, None, results))
        if examples is not None and len(examples) < 4 and _showable(record):
            examples.append([pil_upscale(low, scale, Image.Resampling.NEAREST)] + list(outputs.values()) + [truth])
    return cases


def summarize(cases: list[Case], reference: str = "starter") -> dict:
    """Mean of each metric per (task, mask, method), and how often `reference` beats each other method."""
    groups: dict[str, list[Case]] = {}
    for case in cases:
        groups.setdefault(case.task + (f"/{case.mask}" if case.mask else ""), []).append(case)
        if case.mask:
            groups.setdefault(f"{case.task}/all", []).append(case)
    summary = {}
    for group, members in groups.items():
        methods = list(members[0].results)
        metrics = list(members[0].results[methods[0]])
        means = {m: {k: float(np.mean([c.results[m][k] for c in members])) for k in metrics} for m in methods}
        wins = {}
        if reference in methods:
            for other in methods:
                if other.startswith(reference):
                    continue
                wins[other] = {k: float(np.mean([
                    (c.results[reference][k] > c.results[other][k]) == HIGHER_IS_BETTER[k] and
                    c.results[reference][k] != c.results[other][k] for c in members])) for k in metrics}
        summary[group] = {"cases": len(members), "mean": means, "starter_win_rate": wins}
    return summary


def verdicts(summary: dict) -> list[str]:
    """Every starter variant (one sample, the means of several) against every baseline, on every metric."""
    lines = []
    for group, entry in summary.items():
        if group == "inpaint/box" or group == "inpaint/strokes":
            continue
        means = entry["mean"]
        starters = [m for m in means if m.startswith("starter")]
        for reference in starters:
            for other in (m for m in means if not m.startswith("starter")):
                for k in means[reference]:
                    better = (means[reference][k] > means[other][k]) == HIGHER_IS_BETTER[k]
                    lines.append(f"{group}: {reference} {'beats' if better else 'does NOT beat'} {other} on {k} "
                                 f"({means[reference][k]:.4g} vs {means[other][k]:.4g})")
    return lines


def markdown(report: dict) -> str:
    lines = ["# Starter models: evaluation on held-out photos", "",
             f"Generated by `{report['command']}` on {report['machine']} ({report['date']}).", "",
             "Held-out photos are never seen by training (docs/data-provenance.md). Inpainting: crops at the photo model's",
             "native size, each with a box and a brush-stroke mask; PSNR hole is over the masked pixels only. Super-resolution:",
             "crops at the stored resolution, reduced with Pillow's bicubic filter. GMSD is a perceptual index needing no",
             "learned weights (lower is better); LPIPS is not reported because its network weights cannot be downloaded here.",
             ""]
    for name, info in report["models"].items():
        lines.append(f"- {name}: `{info['path']}`, {info['parameters']:,} parameters, trained {info['steps']} steps; "
                     f"sampling {info['sampling']}")
    lines.append("")
    for group, entry in report["summary"].items():
        means = entry["mean"]
        metrics = list(next(iter(means.values())))
        lines += [f"## {group} ({entry['cases']} cases)", "",
                  "| method | " + " | ".join(LABELS[k] for k in metrics) + " |",
                  "| --- | " + " | ".join("---" for _ in metrics) + " |"]
        for method, values in means.items():
            lines.append(f"| {method} | " + " | ".join(f"{values[k]:.4f}" if k in ("ssim", "gmsd") else f"{values[k]:.2f}"
                                                         for k in metrics) + " |")
        if entry["starter_win_rate"]:
            lines += ["", "Share of cases where the starter model is better:", "",
                      "| against | " + " | ".join(LABELS[k] for k in metrics) + " |",
                      "| --- | " + " | ".join("---" for _ in metrics) + " |"]
            for other, rates in entry["starter_win_rate"].items():
                lines.append(f"| {other} | " + " | ".join(f"{rates[k]:.0%}" for k in metrics) + " |")
        lines.append("")
    lines += ["## Verdicts (means)", ""] + [f"- {v}" for v in report["verdicts"]] + [""]
    return "\n".join(lines)


def _sheet(rows: list[list[np.ndarray]], labels: list[str], path: Path, cell: int = 128) -> None:
    """Example results side by side, one case per row, a label above each column."""
    if not rows:
        return
    top = 16
    sheet = Image.new("RGB", (cell * len(rows[0]), top + cell * len(rows)), "white")
    draw = ImageDraw.Draw(sheet)
    for c, label in enumerate(labels):
        draw.text((c * cell + 3, 2), label, fill="black")
    for r, row in enumerate(rows):
        for c, picture in enumerate(row):
            sheet.paste(Image.fromarray(picture).resize((cell, cell), Image.Resampling.NEAREST), (c * cell, top + r * cell))
    sheet.save(path)


def _machine(device) -> str:
    import torch

    if str(device).startswith("cuda"):
        return torch.cuda.get_device_name(device)
    return f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)"


def evaluate(data: str | Path, *, photo_model: str | Path | None = None, sr_model: str | Path | None = None,
             out_json: str | Path = "docs/starter-evaluation.json", out_md: str | Path = "docs/starter-evaluation.md",
             subset: int | None = None, steps: int | None = None, sr_steps: int | None = None, seed: int = 0,
             crops_per_photo: int = 3, sr_size: int = 256, samples: tuple[int, ...] = (1,), device=None,
             examples: str | Path | None = None, command: str = "python -m studio.train evaluate") -> dict:
    import torch

    from studio.train.starter_model import load_starter

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    photos = load_photos(data, HELDOUT, limit=subset)
    if not photos:
        raise ValueError(f"{data}: no held-out photos")
    started = time.monotonic()
    cases: list[Case] = []
    models = {}
    inpaint_rows: list | None = [] if examples else None
    sr_rows: list | None = [] if examples else None
    for name, path in (("photo", photo_model), ("sr", sr_model)):
        if path is None:
            continue
        model = load_starter(path, device=device, dtype=torch.float32)
        models[name] = {"path": str(path), "parameters": sum(p.numel() for p in model.unet.parameters()),
                        "steps": model.info.get("training", {}).get("steps"), "sampling": model.info.get("sampling")}
        if name == "photo":
            models[name]["sampling"] = {**(model.info.get("sampling") or {}), "steps_used": steps}
            cases += _inpaint_cases(model, photos, crops_per_photo, steps, seed, samples, inpaint_rows)
        else:
            models[name]["sampling"] = {**(model.info.get("sampling") or {}), "steps_used": sr_steps or steps}
            cases += _sr_cases(model, photos, crops_per_photo, sr_steps or steps, seed, sr_size, sr_rows, samples)
    summary = summarize(cases)
    report = {
        "command": command, "machine": _machine(device),
        "date": time.strftime("%Y-%m-%d"), "seconds": round(time.monotonic() - started, 1),
        "heldout_photos": [r.id for r, _ in photos], "crops_per_photo": crops_per_photo, "seed": seed,
        "models": models, "summary": summary, "verdicts": verdicts(summary),
        "cases": [c.__dict__ for c in cases],
    }
    Path(out_json).parent.mkdir(parents=True, exist_ok=True)
    Path(out_json).write_text(json.dumps(report, indent=1) + "\n")
    Path(out_md).parent.mkdir(parents=True, exist_ok=True)
    Path(out_md).write_text(markdown(report))
    if examples:
        Path(examples).mkdir(parents=True, exist_ok=True)
        inpaint_labels = ["masked", "telea", "navier-stokes"] + [
            "starter" if k == 1 else f"starter mean {k}" for k in samples] + ["truth"]
        _sheet(inpaint_rows, inpaint_labels, Path(examples) / "starter-inpaint-examples.png")
        _sheet(sr_rows, ["low-res (nearest)", "bicubic", "lanczos"] + [
            "starter" if k == 1 else f"starter mean {k}" for k in samples] + ["truth"],
               Path(examples) / "starter-sr-examples.png", cell=192)
    return report
