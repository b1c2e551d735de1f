"""The starter models' photographs: gathered from scikit-image and Debian packages, checked, split, cropped.

`gather()` writes a data folder:

    photos/<id>.jpg | .png     every photograph, shortest side at most `short_side` (never enlarged);
                               training photos as JPEG (quality 95, no chroma subsampling), held-out ones
                               as PNG so that the evaluation's ground truth carries no new compression
    manifest.json              provenance of each photo (source, package and version, path in the package,
                               author, licence, upstream URL, sha256 of the original file) and its split

The split is by whole source photograph and deterministic: photos are ranked by sha256 of their id and the
first `heldout_fraction` of them (at least one) are held out. Training reads only `split == "train"`.

`PhotoCrops` makes the training crops on the fly: a random photo, a random square side between the crop
size and the photo's shortest side (log-uniform, so every zoom level is seen), resized with antialiasing
to the crop size, flipped left-right half the time.
"""

from __future__ import annotations

import fnmatch
import hashlib
import io
import json
import logging
import shutil
import subprocess
import tarfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np
from PIL import Image

from studio.train.sources import (
    COPYLEFT,
    DEBIAN_PHOTOS,
    EXCLUDED,
    LICENCES,
    PERMISSIVE,
    SKIMAGE_PHOTOS,
    DebianPhoto,
    SkimagePhoto,
    licence_class,
)

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
TRAIN, HELDOUT = "train", "heldout"


@dataclass
class PhotoRecord:
    id: str
    file: str  # relative to the data folder
    split: str
    title: str
    author: str
    licence: str
    licence_class: str
    licence_url: str
    source: str  # "scikit-image 0.26.0" or "debian:mate-backgrounds 1.26.0-1"
    origin: str  # skimage.data.<name>() or the path inside the package
    url: str
    original_sha256: str
    original_size: tuple[int, int]
    size: tuple[int, int]


@dataclass
class Manifest:
    photos: list[PhotoRecord]
    short_side: int
    heldout_fraction: float
    skipped: list[dict] = field(default_factory=list)  # catalogue entries that failed a check, with why

    def split(self, name: str) -> list[PhotoRecord]:
        return [p for p in self.photos if p.split == name]

    def to_json(self) -> dict:
        return {"format": 1, "short_side": self.short_side, "heldout_fraction": self.heldout_fraction,
                "photos": [asdict(p) for p in self.photos], "skipped": self.skipped}

    @classmethod
    def load(cls, folder: str | Path) -> "Manifest":
        raw = json.loads((Path(folder) / MANIFEST).read_text())
        photos = [PhotoRecord(**{**p, "original_size": tuple(p["original_size"]), "size": tuple(p["size"])})
                  for p in raw["photos"]]
        return cls(photos, raw["short_side"], raw["heldout_fraction"], raw.get("skipped", []))

    def summary(self) -> dict:
        """What a saved model records about its data."""
        by_licence: dict[str, int] = {}
        for p in self.split(TRAIN):
            by_licence[p.licence] = by_licence.get(p.licence, 0) + 1
        return {"train_photos": len(self.split(TRAIN)), "heldout_photos": len(self.split(HELDOUT)),
                "train_licences": by_licence, "heldout_ids": [p.id for p in self.split(HELDOUT)],
                "provenance": "docs/data-provenance.md"}


# ------------------------------------------------------------------------------------------------
# Debian packages: download, read members without unpacking, check the licence text
# ------------------------------------------------------------------------------------------------


def download_debs(packages: Iterable[str], cache: Path) -> dict[str, Path]:
    """`apt-get download` each package into `cache` (kept between runs); a package that cannot be had is left out."""
    cache.mkdir(parents=True, exist_ok=True)
    found: dict[str, Path] = {}
    for package in sorted(set(packages)):
        have = sorted(cache.glob(f"{package}_*.deb"))
        if not have and shutil.which("apt-get"):
            done = subprocess.run(["apt-get", "download", package], cwd=cache, capture_output=True, text=True)
            if done.returncode != 0:
                log.warning("apt-get download %s failed: %s", package, done.stderr.strip()[-300:])
            have = sorted(cache.glob(f"{package}_*.deb"))
        if have:
            found[package] = have[-1]
        else:
            log.warning("no .deb for %s (no apt-get, or run 'apt-get update' first)", package)
    return found


def _ar_members(data: bytes) -> dict[str, bytes]:
    """The members of a Unix ar archive (a .deb is one: debian-binary, control.tar.*, data.tar.*)."""
    if not data.startswith(b"!<arch>\n"):
        raise ValueError("not an ar archive")
    members, offset = {}, 8
    while offset + 60 <= len(data):
        header = data[offset:offset + 60]
        name = header[:16].decode().strip().rstrip("/")
        size = int(header[48:58].decode().strip())
        members[name] = data[offset + 60:offset + 60 + size]
        offset += 60 + size + (size % 2)
    return members


def deb_version(deb: Path) -> str:
    """The package version, from the file name apt-get gives (name_version_arch.deb, ':' written as %3a)."""
    return deb.name.split("_")[1].replace("%3a", ":")


def read_deb_files(deb: Path, wanted: Iterable[str]) -> dict[str, bytes]:
    """The contents of `wanted` paths (no leading "./") in a .deb's data archive, following symlinks inside it."""
    members = _ar_members(deb.read_bytes())
    data_name = next((n for n in members if n.startswith("data.tar")), None)
    if data_name is None:
        raise ValueError(f"{deb.name}: no data.tar member")
    if data_name.endswith(".zst"):  # tarfile cannot read zstd before Python 3.14; dpkg-deb can
        return _read_with_dpkg(deb, wanted)
    wanted = set(wanted)
    out: dict[str, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(members[data_name])) as tar:
        by_name = {m.name.removeprefix("./"): m for m in tar.getmembers()}
        for path in wanted:
            member = by_name.get(path)
            for _ in range(8):  # a link to a link, at most this deep
                if member is None or not member.issym():
                    break
                member = by_name.get(str(Path(path).parent / member.linkname))
            if member is not None and member.isfile():
                out[path] = tar.extractfile(member).read()
    return out


def _read_with_dpkg(deb: Path, wanted: Iterable[str]) -> dict[str, bytes]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["dpkg-deb", "-x", str(deb), tmp], check=True)
        return {p: (Path(tmp) / p).read_bytes() for p in wanted if (Path(tmp) / p).is_file()}


def dep5_stanza(copyright_text: str, path: str) -> dict[str, str] | None:
    """The machine-readable copyright stanza whose `Files:` patterns match `path` (its tail, as upstream names it);
    the last matching stanza wins, as DEP-5 says."""
    match = None
    for block in copyright_text.split("\n\n"):
        fields: dict[str, str] = {}
        key = None
        for line in block.splitlines():
            if line[:1] in (" ", "\t") and key:
                fields[key] += "\n" + line.strip()
            elif ":" in line:
                key, value = line.split(":", 1)
                fields[key.strip()] = value.strip()
        if any(_names(pattern, path) for pattern in fields.get("Files", "").split()):
            match = fields
    return match


def _names(pattern: str, path: str) -> bool:
    """Whether a `Files:` pattern (a path in the upstream tree) names an installed path: some tail of the path
    matches it, or, when upstream kept the file in another folder (lomiri's 16.04/), the file names match."""
    parts = path.split("/")
    if any(fnmatch.fnmatchcase("/".join(parts[i:]), pattern) for i in range(len(parts))):
        return True
    base = pattern.rsplit("/", 1)[-1]
    return "/" in pattern and base.strip("*?") != "" and fnmatch.fnmatchcase(parts[-1], base)


def check_debian_photo(photo: DebianPhoto, files: dict[str, bytes]) -> str | None:
    """None when the package's own text states the catalogue's author and licence for this photo; else why not."""
    if photo.path not in files:
        return "file not in the package"
    if photo.check == "kde-metadata":
        meta_path = photo.path.split("/contents/", 1)[0] + "/metadata.json"
        if meta_path not in files:
            return "no metadata.json"
        plugin = json.loads(files[meta_path])["KPlugin"]
        names = [a.get("Name", "") for a in plugin.get("Authors", [])]
        if plugin.get("License") != photo.licence_text:
            return f"metadata.json says licence {plugin.get('License')!r}"
        if photo.author not in names:
            return f"metadata.json names {names}"
        return None
    copyright_path = f"usr/share/doc/{photo.package}/copyright"
    stanza = dep5_stanza(files.get(copyright_path, b"").decode("utf-8", "replace"), photo.path)
    if stanza is None:
        return "no copyright stanza names the file"
    licence = stanza.get("License", "").split("\n")[0].strip()
    if licence != photo.licence_text:
        return f"copyright file says licence {licence!r}"
    if photo.author.split()[0] not in stanza.get("Copyright", ""):
        return f"copyright file names {stanza.get('Copyright')!r}"
    return None


# ------------------------------------------------------------------------------------------------
# gathering
# ------------------------------------------------------------------------------------------------


def default_deb_cache() -> Path:
    """Outside the data folder, so that the folder stays small enough to carry to a GPU machine."""
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("studio")) / "starter-debs"


def _shrink(picture: Image.Image, short_side: int) -> Image.Image:
    picture = picture.convert("RGB")
    scale = short_side / min(picture.size)
    if scale < 1:
        size = (round(picture.width * scale), round(picture.height * scale))
        picture = picture.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
    return picture


def _skimage_photos(catalogue: Iterable[SkimagePhoto]) -> Iterable[tuple[SkimagePhoto, bytes | None, str | None]]:
    import inspect

    import skimage
    import skimage.data

    for photo in catalogue:
        function = getattr(skimage.data, photo.name, None)
        if function is None:
            yield photo, None, "not in this scikit-image"
            continue
        if photo.statement not in " ".join((inspect.getdoc(function) or "").split()):
            yield photo, None, f"skimage's docstring no longer says {photo.statement!r}"
            continue
        buffer = io.BytesIO()
        Image.fromarray(function()).save(buffer, format="PNG")
        yield photo, buffer.getvalue(), None


def _split(ids: list[str], fraction: float, minimum: int = 1) -> set[str]:
    ranked = sorted(ids, key=lambda i: hashlib.sha256(i.encode()).hexdigest())
    count = max(minimum, round(fraction * len(ids))) if ids else 0
    return set(ranked[:count])


def gather(
    out: str | Path,
    *,
    use_skimage: bool = True,
    use_debian: bool = True,
    deb_cache: str | Path | None = None,
    short_side: int = 512,
    heldout_fraction: float = 0.2,
    licence_classes: tuple[str, ...] = (PERMISSIVE, COPYLEFT),
    skimage_catalogue: Iterable[SkimagePhoto] = SKIMAGE_PHOTOS,
    debian_catalogue: Iterable[DebianPhoto] = DEBIAN_PHOTOS,
) -> Manifest:
    """Collect, check, shrink and split the photographs into `out`; returns the manifest it writes."""
    out = Path(out)
    (out / "photos").mkdir(parents=True, exist_ok=True)
    originals: list[tuple[object, bytes, str, str]] = []  # (catalogue entry, bytes, source, origin)
    skipped: list[dict] = []

    if use_skimage:
        import skimage

        for photo, data, why in _skimage_photos(skimage_catalogue):
            if why:
                skipped.append({"id": photo.id, "why": why})
            else:
                originals.append((photo, data, f"scikit-image {skimage.__version__}", f"skimage.data.{photo.name}()"))

    if use_debian:
        catalogue = list(debian_catalogue)
        debs = download_debs({p.package for p in catalogue}, Path(deb_cache or default_deb_cache()))
        for package, deb in debs.items():
            entries = [p for p in catalogue if p.package == package]
            wanted = {f"usr/share/doc/{package}/copyright"}
            for p in entries:
                wanted.add(p.path)
                if p.check == "kde-metadata":
                    wanted.add(p.path.split("/contents/", 1)[0] + "/metadata.json")
            files = read_deb_files(deb, wanted)
            for photo in entries:
                why = check_debian_photo(photo, files)
                if why:
                    log.warning("skipping %s: %s", photo.id, why)
                    skipped.append({"id": photo.id, "why": why})
                else:
                    originals.append((photo, files[photo.path], f"debian:{package} {deb_version(deb)}", photo.path))
        for p in catalogue:
            if p.package not in debs:
                skipped.append({"id": p.id, "why": f"package {p.package} not available"})

    # Photos of a licence class not wanted for training are still free to look at: they join the held-out set,
    # which only the evaluation reads (more unseen photos, and the training set keeps all it may use).
    kept = [o for o in originals if licence_class(o[0].licence) in (PERMISSIVE, COPYLEFT)]
    trainable = [o[0].id for o in kept if licence_class(o[0].licence) in licence_classes]
    excluded = {o[0].id for o in kept if o[0].id not in trainable}
    heldout = _split(trainable, heldout_fraction, minimum=0 if excluded else 1) | excluded

    records = []
    for photo, data, source, origin in kept:
        original = Image.open(io.BytesIO(data))
        picture = _shrink(original, short_side)
        split = HELDOUT if photo.id in heldout else TRAIN
        name = f"photos/{photo.id}." + ("png" if split == HELDOUT else "jpg")
        if split == HELDOUT:
            picture.save(out / name, format="PNG", optimize=True)
        else:
            picture.save(out / name, format="JPEG", quality=95, subsampling=0)
        records.append(PhotoRecord(
            id=photo.id, file=name, split=split, title=photo.title, author=photo.author, licence=photo.licence,
            licence_class=licence_class(photo.licence), licence_url=LICENCES[photo.licence][1], source=source,
            origin=origin, url=photo.url, original_sha256=hashlib.sha256(data).hexdigest(),
            original_size=original.size, size=picture.size))
    written = {Path(r.file).name for r in records}
    for stale in (out / "photos").iterdir():  # left by an earlier run with another selection
        if stale.suffix in (".jpg", ".png") and stale.name not in written:
            stale.unlink()
    records.sort(key=lambda r: (r.split, r.id))
    manifest = Manifest(records, short_side, heldout_fraction, skipped)
    (out / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=1, ensure_ascii=False) + "\n")
    return manifest


def load_photos(folder: str | Path, split: str, limit: int | None = None) -> list[tuple[PhotoRecord, np.ndarray]]:
    """(record, HxWx3 uint8) of one split, in manifest order."""
    folder = Path(folder)
    records = Manifest.load(folder).split(split)[:limit]
    return [(r, np.asarray(Image.open(folder / r.file).convert("RGB"))) for r in records]


# ------------------------------------------------------------------------------------------------
# docs/data-provenance.md
# ------------------------------------------------------------------------------------------------


def provenance_markdown(manifest: Manifest, command: str = "python -m studio.train data") -> str:
    lines = [
        "# Data provenance: the starter models' photographs",
        "",
        f"Generated by `{command}` (studio/train/data.py); the catalogue with the reasons for each choice is",
        "studio/train/sources.py. Each licence below was read from the source's own text when the data was gathered:",
        "scikit-image's docstrings, the Debian package's `copyright` file (the stanza naming the file) or, for KDE",
        "wallpapers, the wallpaper's `metadata.json` (its per-wallpaper licence; Debian's copyright file covers the",
        "whole package as GPL-2+). Photos are shrunk to a shortest side of at most "
        f"{manifest.short_side} px; the licences apply to these reduced copies too.",
        "",
        f"Held out (never seen by training; used by the evaluation): {len(manifest.split(HELDOUT))} photos, "
        f"chosen by sha256 of the id (fraction {manifest.heldout_fraction}).",
        "",
        "| id | split | title | author | licence | source | origin | upstream |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for p in manifest.photos:
        lines.append(f"| {p.id} | {p.split} | {p.title} | {p.author} | [{p.licence}]({p.licence_url}) | {p.source} | "
                     f"`{p.origin}` | <{p.url}> |")
    counts: dict[str, int] = {}
    for p in manifest.photos:
        counts[p.licence] = counts.get(p.licence, 0) + 1
    lines += ["", "## Licences", "", "| licence | class | photos |", "| --- | --- | --- |"]
    lines += [f"| {k} | {licence_class(k)} | {v} |" for k, v in sorted(counts.items())]
    evaluation_only = [p for p in manifest.split(HELDOUT) if p.licence_class == COPYLEFT]
    if evaluation_only and not any(p.licence_class == COPYLEFT for p in manifest.split(TRAIN)):
        lines += ["", f"Training uses public-domain, CC0 and CC BY photos only. The {len(evaluation_only)} share-alike "
                  "photos are held out: only the evaluation reads them."]
    if any(p.licence_class == COPYLEFT for p in manifest.split(TRAIN)):
        lines += ["", "Some training photos are under share-alike (copyleft) licences. Whether trained weights are an",
                  "adaptation of their training images is not settled; if they are, the weights must be offered under",
                  "a compatible share-alike licence and credit these authors. `python -m studio.train data",
                  "--licences permissive` gathers only public-domain, CC0 and CC BY photos instead."]
    if manifest.skipped:
        lines += ["", "## Catalogue entries skipped in this run", "", "| id | why |", "| --- | --- |"]
        lines += [f"| {s['id']} | {s['why']} |" for s in manifest.skipped]
    lines += ["", "## Looked at and left out", "", "| what | why |", "| --- | --- |"]
    lines += [f"| {what} | {why} |" for what, why in EXCLUDED]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------
# training crops
# ------------------------------------------------------------------------------------------------


class PhotoCrops:
    """Random square crops of the training photos, as float tensors in [-1, 1], made on the given device.

    Crop parameters come from the numpy generator passed in, so a step's batch depends only on that
    generator: the trainer seeds one per step, which makes a resumed run see exactly the same batches."""

    def __init__(self, pictures: list[np.ndarray], size: int, device="cpu", min_side: int | None = None):
        import torch

        usable = [p for p in pictures if min(p.shape[:2]) >= size]
        if not usable:
            raise ValueError(f"no training photo has a side of at least {size} px")
        self.size = size
        self.min_side = min_side or size
        self.device = torch.device(device)
        self.pictures = [torch.from_numpy(np.array(p, dtype=np.uint8, copy=True)).permute(2, 0, 1).to(self.device) for p in usable]

    @classmethod
    def from_folder(cls, folder: str | Path, size: int, device="cpu", split: str = TRAIN) -> "PhotoCrops":
        return cls([picture for _, picture in load_photos(folder, split)], size, device)

    def sample(self, batch: int, rng: np.random.Generator):
        import torch
        import torch.nn.functional as F

        crops = []
        for _ in range(batch):
            picture = self.pictures[rng.integers(len(self.pictures))]
            height, width = picture.shape[1:]
            side = int(round(np.exp(rng.uniform(np.log(self.min_side), np.log(min(height, width))))))
            side = min(max(side, self.size), height, width)
            top, left = rng.integers(height - side + 1), rng.integers(width - side + 1)
            crop = picture[:, top:top + side, left:left + side].unsqueeze(0).float()
            if side != self.size:
                crop = F.interpolate(crop, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
            if rng.random() < 0.5:
                crop = crop.flip(-1)
            crops.append(crop)
        return (torch.cat(crops) / 127.5 - 1.0).clamp(-1, 1)
