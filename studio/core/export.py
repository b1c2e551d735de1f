"""A batch export folder: one picture per job (named by a pattern), the batch's recipe, an index of files
with their seeds and swept values, and a labelled contact sheet.

Every file is written under a temporary name and renamed, so a batch killed at any moment leaves only
whole files; the folder's `batch.json` ties it to one recipe, and resuming runs only the jobs whose
picture is not there yet.
"""

from __future__ import annotations

import csv
import io
import json
import re
import string
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from studio.core.atomic import write_bytes
from studio.core.errors import StudioError
from studio.core.metadata import FORMATS, ResultMetadata, write_picture
from studio.core.recipe import Recipe, parse_recipe
from studio.core.sweeps import Job

BATCH_FILE = "batch.json"
INDEX_JSON = "index.json"
INDEX_CSV = "index.csv"
CONTACT_SHEET = "contact-sheet.png"
DEFAULT_PATTERN = "{task}-{index:03d}-seed{seed}"
PATTERN_FIELDS = ("index", "seed", "task", "steps", "guidance", "strength", "sampler", "prompt", "controlnet_scale",
                  "lora_weight", "clip_skip", "hires_strength")
SUFFIXES = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}
THUMBNAIL = 192


@dataclass(frozen=True)
class ExportSettings:
    folder: Path
    pattern: str = DEFAULT_PATTERN
    kind: str = "png"  # png, jpeg or webp
    quality: int = 95


def _slug(text: str, limit: int = 40) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:limit] or "untitled"


def _values(job: Job) -> dict:
    recipe = job.recipe
    scale = recipe.controlnets[0].scale if recipe.controlnets else ""
    lora_weight = recipe.loras[0].weight if recipe.loras else ""
    return {"index": job.index, "seed": recipe.seed, "task": recipe.task, "steps": recipe.steps,
            "guidance": recipe.guidance, "strength": recipe.strength, "sampler": recipe.sampler,
            "prompt": _slug(recipe.prompt), "controlnet_scale": scale,
            "lora_weight": lora_weight, "clip_skip": recipe.clip_skip,
            "hires_strength": recipe.hires.strength if recipe.hires else ""}


def file_name(settings: ExportSettings, job: Job) -> str:
    try:
        stem = settings.pattern.format(**_values(job))
    except (KeyError, ValueError, IndexError) as error:
        raise StudioError(f"naming pattern {settings.pattern!r} is not usable ({error}); fields: {', '.join(PATTERN_FIELDS)}") from None
    if not stem or "/" in stem or "\\" in stem or stem.startswith("."):
        raise StudioError(f"naming pattern {settings.pattern!r} gives an unusable file name {stem!r}")
    return stem + SUFFIXES[settings.kind]


def check_pattern(settings: ExportSettings, jobs: list[Job]) -> dict[int, str]:
    """Names for every job; two jobs with one name would overwrite each other, so that is refused."""
    fields = {name for _, name, _, _ in string.Formatter().parse(settings.pattern) if name}
    unknown = sorted(fields - set(PATTERN_FIELDS))
    if unknown:
        raise StudioError(f"naming pattern field {{{unknown[0]}}} is unknown; fields: {', '.join(PATTERN_FIELDS)}")
    if settings.kind not in FORMATS:
        raise StudioError(f"unknown picture format {settings.kind!r}; use one of {', '.join(FORMATS)}")
    names, seen = {}, {}
    for job in jobs:
        name = file_name(settings, job)
        if name in seen:
            raise StudioError(f"naming pattern gives jobs {seen[name]} and {job.index} the same name {name!r}: add {{index}}")
        names[job.index], seen[name] = name, job.index
    return names


def _is_whole_picture(path: Path) -> bool:
    try:
        with Image.open(path) as image:
            image.verify()
        return True
    except Exception:  # any decoding failure means the file cannot count as done
        return False


class BatchFolder:
    def __init__(self, settings: ExportSettings, recipe: Recipe, jobs: list[Job]):
        self.settings, self.recipe, self.jobs = settings, recipe, jobs
        self.names = check_pattern(settings, jobs)
        self.folder = Path(settings.folder)

    def _batch_record(self) -> dict:
        return {"recipe": self.recipe.to_dict(), "pattern": self.settings.pattern, "format": self.settings.kind,
                "jobs": len(self.jobs)}

    def holds(self) -> str:
        """What the folder holds, read without changing anything: "nothing" (no batch yet), "this" batch (so it
        can be resumed) or "another" one (so `start` would refuse it)."""
        batch_path = self.folder / BATCH_FILE
        if not batch_path.is_file():
            return "nothing"
        try:
            existing = json.loads(batch_path.read_text())
        except (OSError, ValueError):
            return "another"
        return "this" if existing == self._batch_record() else "another"

    def start(self, resume: bool) -> list[Job]:
        """The jobs still to run. A folder that holds another batch is refused rather than mixed."""
        self.folder.mkdir(parents=True, exist_ok=True)
        batch_path = self.folder / BATCH_FILE
        record = self._batch_record()
        if batch_path.exists():
            try:
                existing = json.loads(batch_path.read_text())
            except (OSError, ValueError):
                existing = None
            if existing != record:
                raise StudioError(f"{self.folder} holds another batch; choose an empty folder")
            if not resume:
                raise StudioError(f"{self.folder} already holds this batch; resume it or choose an empty folder")
        else:
            write_bytes(batch_path, json.dumps(record, indent=2).encode())
        for leftover in self.folder.glob(".*.part"):  # a run killed mid-write leaves its temporary file
            leftover.unlink(missing_ok=True)
        return [job for job in self.jobs if not self.done(job)]

    def path_of(self, job: Job) -> Path:
        return self.folder / self.names[job.index]

    def done(self, job: Job) -> bool:
        path = self.path_of(job)
        return path.is_file() and _is_whole_picture(path)

    def write(self, job: Job, pixels: np.ndarray, meta: ResultMetadata) -> Path:
        return write_picture(self.path_of(job), pixels, meta, self.settings.kind, self.settings.quality)

    def finish(self) -> None:
        """The index (JSON and CSV) and the contact sheet, over the jobs whose pictures exist."""
        finished = [job for job in self.jobs if self.path_of(job).is_file()]
        rows = [{"file": self.names[job.index], "index": job.index, **job.swept} for job in finished]
        write_bytes(self.folder / INDEX_JSON, json.dumps(rows, indent=2).encode())
        columns = ["file", "index"] + sorted({key for row in rows for key in row} - {"file", "index"})
        text = io.StringIO()
        writer = csv.DictWriter(text, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
        write_bytes(self.folder / INDEX_CSV, text.getvalue().encode())
        if finished:
            sheet = contact_sheet([self.path_of(job) for job in finished], [label(job) for job in finished])
            buffer = io.BytesIO()
            sheet.save(buffer, format="PNG")
            write_bytes(self.folder / CONTACT_SHEET, buffer.getvalue())


def recorded_batch(folder: Path) -> tuple[Recipe, ExportSettings] | None:
    """The batch a folder holds, from its batch.json (to resume it as it was started); None when it holds
    none. The JPEG/WebP quality is not recorded, so the default comes back."""
    try:
        record = json.loads((Path(folder) / BATCH_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("recipe"), dict):
        return None
    recipe = parse_recipe(record["recipe"])
    return recipe, ExportSettings(Path(folder), record.get("pattern", DEFAULT_PATTERN), record.get("format", "png"))


def label(job: Job) -> str:
    return " · ".join(f"{key} {value:g}" if isinstance(value, float) else f"{key} {value}" for key, value in job.swept.items())


def contact_sheet(paths: list[Path], labels: list[str], columns: int | None = None) -> Image.Image:
    """Thumbnails in a grid, each with its label underneath."""
    columns = columns or min(len(paths), max(1, round(len(paths) ** 0.5 * 1.3)))
    rows = -(-len(paths) // columns)
    font = ImageFont.load_default(size=13)
    caption = 22
    sheet = Image.new("RGB", (columns * (THUMBNAIL + 8) + 8, rows * (THUMBNAIL + caption + 8) + 8), (32, 33, 36))
    draw = ImageDraw.Draw(sheet)
    for position, (path, text) in enumerate(zip(paths, labels)):
        row, column = divmod(position, columns)
        left, top = 8 + column * (THUMBNAIL + 8), 8 + row * (THUMBNAIL + caption + 8)
        with Image.open(path) as image:
            thumb = image.convert("RGB")
            thumb.thumbnail((THUMBNAIL, THUMBNAIL))
        sheet.paste(thumb, (left + (THUMBNAIL - thumb.width) // 2, top + (THUMBNAIL - thumb.height) // 2))
        draw.text((left, top + THUMBNAIL + 4), text, fill=(230, 230, 230), font=font)
    return sheet
