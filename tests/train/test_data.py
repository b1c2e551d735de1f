"""Gathering, licence checks, the held-out split and the training crops."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest
from PIL import Image

from studio.train.data import (
    HELDOUT,
    TRAIN,
    Manifest,
    PhotoCrops,
    _split,
    check_debian_photo,
    dep5_stanza,
    gather,
    load_photos,
    provenance_markdown,
    read_deb_files,
)
from studio.train.sources import DEBIAN_PHOTOS, LICENCES, PERMISSIVE, SKIMAGE_PHOTOS, DebianPhoto


def test_skimage_photos_are_gathered_with_provenance(photo_data):
    manifest = Manifest.load(photo_data)
    assert {p.id for p in manifest.photos} == {p.id for p in SKIMAGE_PHOTOS}
    for record in manifest.photos:
        assert (photo_data / record.file).is_file()
        assert record.licence in LICENCES and record.author and record.url.startswith("https://")
        assert record.source.startswith("scikit-image ")
        assert min(record.size) == 64 and len(record.original_sha256) == 64
        assert record.file.endswith(".png" if record.split == HELDOUT else ".jpg")
    assert len(manifest.split(HELDOUT)) == 2 and len(manifest.split(TRAIN)) == 2


def test_split_is_deterministic_and_by_whole_photo(tmp_path, photo_data):
    again = gather(tmp_path, use_debian=False, short_side=64, heldout_fraction=0.5)
    first = Manifest.load(photo_data)
    assert [(p.id, p.split) for p in again.photos] == [(p.id, p.split) for p in first.photos]
    assert not {p.id for p in first.split(HELDOUT)} & {p.id for p in first.split(TRAIN)}
    assert _split([f"photo-{i}" for i in range(40)], 0.2) == _split([f"photo-{i}" for i in reversed(range(40))], 0.2)
    assert len(_split([f"photo-{i}" for i in range(40)], 0.2)) == 8


def test_training_never_reads_held_out_photos(photo_data):
    heldout = {r.id for r, _ in load_photos(photo_data, HELDOUT)}
    crops = PhotoCrops.from_folder(photo_data, 32)
    trained_on = {r.id for r, _ in load_photos(photo_data, TRAIN)}
    assert len(crops.pictures) == len(trained_on) and not heldout & trained_on


def test_crops_are_deterministic_per_generator(photo_data):
    crops = PhotoCrops.from_folder(photo_data, 32)
    a = crops.sample(6, np.random.default_rng(3))
    b = crops.sample(6, np.random.default_rng(3))
    c = crops.sample(6, np.random.default_rng(4))
    assert a.shape == (6, 3, 32, 32) and a.min() >= -1 and a.max() <= 1
    assert bool((a == b).all()) and not bool((a == c).all())


def _deb(path, files: dict[str, bytes], links: dict[str, str] = {}):
    """A minimal .deb (ar archive: debian-binary, control.tar.xz, data.tar.xz) holding `files`."""
    def tar(entries, links={}):
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:xz") as archive:
            for name, data in entries.items():
                info = tarfile.TarInfo("./" + name)
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            for name, target in links.items():
                info = tarfile.TarInfo("./" + name)
                info.type, info.linkname = tarfile.SYMTYPE, target
                archive.addfile(info)
        return buffer.getvalue()

    members = [("debian-binary", b"2.0\n"), ("control.tar.xz", tar({"control": b"Package: fake\n"})),
               ("data.tar.xz", tar(files, links))]
    out = b"!<arch>\n"
    for name, data in members:
        out += f"{name:<16}{0:<12}{0:<6}{0:<6}{'100644':<8}{len(data):<10}`\n".encode() + data + (b"\n" if len(data) % 2 else b"")
    path.write_bytes(out)
    return path


COPYRIGHT = b"""Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: fake-backgrounds

Files: *
Copyright: 2020 Somebody
License: GPL-2+

Files: upstream/Lake.jpg
Copyright: 2018, Ada Lovelace <ada@example.org>
License: CC-BY-4.0

Files: upstream/Nolicence.jpg
Copyright: 2018, Ada Lovelace
License: CC-BY-NC-4.0
"""


def _jpeg(colour) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (300, 200), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_debian_photos_are_read_from_the_package_and_checked_against_its_copyright_file(tmp_path):
    cache = tmp_path / "debs"
    cache.mkdir()
    _deb(cache / "fake-backgrounds_1.0-1_all.deb", {
        "usr/share/doc/fake-backgrounds/copyright": COPYRIGHT,
        "usr/share/backgrounds/Lake.jpg": _jpeg("blue"),
        "usr/share/backgrounds/Nolicence.jpg": _jpeg("red"),
    }, links={"usr/share/backgrounds/Lake-small.jpg": "Lake.jpg"})
    good = DebianPhoto("fake-backgrounds", "usr/share/backgrounds/Lake.jpg", "Lake", "Ada Lovelace", "CC-BY-4.0",
                       "https://example.org", "dep5", "CC-BY-4.0")
    via_link = DebianPhoto("fake-backgrounds", "usr/share/backgrounds/Lake-small.jpg", "Lake", "Ada Lovelace",
                           "CC-BY-4.0", "https://example.org", "dep5", "CC-BY-4.0")
    wrong = DebianPhoto("fake-backgrounds", "usr/share/backgrounds/Nolicence.jpg", "No", "Ada Lovelace", "CC-BY-4.0",
                        "https://example.org", "dep5", "CC-BY-4.0")
    manifest = gather(tmp_path / "data", use_skimage=False, deb_cache=cache, short_side=100,
                      debian_catalogue=[good, wrong], heldout_fraction=0.5)
    assert [p.id for p in manifest.photos] == [good.id]
    record = manifest.photos[0]
    assert record.source == "debian:fake-backgrounds 1.0-1" and record.origin == good.path
    assert record.size == (150, 100) and record.original_size == (300, 200)
    assert manifest.skipped == [{"id": wrong.id, "why": "copyright file says licence 'CC-BY-NC-4.0'"}]
    files = read_deb_files(cache / "fake-backgrounds_1.0-1_all.deb", [via_link.path])
    assert files[via_link.path] == _jpeg("blue")


def test_dep5_matching_follows_the_last_stanza_and_files_moved_upstream():
    text = COPYRIGHT.decode()
    assert dep5_stanza(text, "usr/share/backgrounds/Lake.jpg")["License"] == "CC-BY-4.0"
    assert dep5_stanza(text, "usr/share/backgrounds/Other.jpg")["License"] == "GPL-2+"


def test_kde_wallpapers_are_checked_against_their_metadata():
    photo = next(p for p in DEBIAN_PHOTOS if p.check == "kde-metadata")
    meta = photo.path.split("/contents/")[0] + "/metadata.json"
    ok = {"KPlugin": {"Authors": [{"Name": photo.author}], "License": "LGPLv3"}}
    files = {photo.path: b"jpeg", meta: json.dumps(ok).encode()}
    assert check_debian_photo(photo, files) is None
    ok["KPlugin"]["License"] = "Proprietary"
    assert "licence" in check_debian_photo(photo, {**files, meta: json.dumps(ok).encode()})


def test_catalogue_lists_only_free_licences_and_unique_ids():
    ids = [p.id for p in SKIMAGE_PHOTOS] + [p.id for p in DEBIAN_PHOTOS]
    assert len(ids) == len(set(ids))
    for photo in (*SKIMAGE_PHOTOS, *DEBIAN_PHOTOS):
        assert photo.licence in LICENCES and "NC" not in photo.licence and "ND" not in photo.licence


def test_provenance_document_lists_every_photo_and_licence(photo_data):
    manifest = Manifest.load(photo_data)
    text = provenance_markdown(manifest)
    for record in manifest.photos:
        assert record.id in text and record.author in text
    assert "## Licences" in text and "Looked at and left out" in text


def test_crops_need_a_photo_at_least_as_large_as_the_crop():
    with pytest.raises(ValueError, match="no training photo"):
        PhotoCrops([np.zeros((8, 8, 3), np.uint8)], 16)


def test_the_data_command_writes_the_folder_and_the_provenance_document(tmp_path, capsys):
    from studio.train.__main__ import main

    (tmp_path / "d" / "photos").mkdir(parents=True)
    (tmp_path / "d" / "photos" / "stale.jpg").write_bytes(b"old")
    assert main(["data", "--out", str(tmp_path / "d"), "--no-debian", "--short-side", "64", "--heldout-fraction", "0.5",
                 "--docs", str(tmp_path / "provenance.md")]) == 0
    assert "4 photos (2 train, 2 held out)" in capsys.readouterr().out
    assert not (tmp_path / "d" / "photos" / "stale.jpg").exists()
    assert len(list((tmp_path / "d" / "photos").iterdir())) == 4
    text = (tmp_path / "provenance.md").read_text()
    assert "python -m studio.train data --out" in text and "skimage-chelsea" in text


def test_photos_kept_out_of_training_by_licence_are_held_out_for_evaluation(tmp_path):
    cache = tmp_path / "debs"
    cache.mkdir()
    copyright_text = COPYRIGHT.replace(b"License: CC-BY-NC-4.0", b"License: CC-BY-SA-4.0")
    _deb(cache / "fake-backgrounds_1.0-1_all.deb", {
        "usr/share/doc/fake-backgrounds/copyright": copyright_text,
        "usr/share/backgrounds/Lake.jpg": _jpeg("blue"),
        "usr/share/backgrounds/Nolicence.jpg": _jpeg("red"),
    })
    permissive = DebianPhoto("fake-backgrounds", "usr/share/backgrounds/Lake.jpg", "Lake", "Ada Lovelace", "CC-BY-4.0",
                             "https://example.org", "dep5", "CC-BY-4.0")
    share_alike = DebianPhoto("fake-backgrounds", "usr/share/backgrounds/Nolicence.jpg", "Sea", "Ada Lovelace",
                              "CC-BY-SA-4.0", "https://example.org", "dep5", "CC-BY-SA-4.0")
    manifest = gather(tmp_path / "data", use_skimage=False, deb_cache=cache, short_side=100, heldout_fraction=0.0,
                      debian_catalogue=[permissive, share_alike], licence_classes=(PERMISSIVE,))
    assert [p.id for p in manifest.split("train")] == [permissive.id]
    assert [p.id for p in manifest.split("heldout")] == [share_alike.id]  # seen by the evaluation only
    assert "only the evaluation reads them" in provenance_markdown(manifest)
