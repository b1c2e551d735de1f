"""Where the starter models' training photographs come from, and under which licences.

Every entry was chosen by hand: a photograph (not an illustration, a logo or a rendering), from a package
that these machines can install, under a licence that allows redistributing adapted works. The licence
written here is checked again against the package's own text when the data is gathered (data.py): an
entry whose package no longer says so is skipped, never taken on trust.

Licence classes:
  permissive  public domain, CC0, CC BY: attribution at most.
  copyleft    GPL-2+, LGPL-3, CC BY-SA: derived works must keep the licence (and attribution).
Nothing non-free (NC, ND, "all rights reserved", no licence stated) is ever listed.
"""

from __future__ import annotations

from dataclasses import dataclass

PERMISSIVE = "permissive"
COPYLEFT = "copyleft"

LICENCES: dict[str, tuple[str, str]] = {
    # id: (class, URL of the licence text)
    "public-domain": (PERMISSIVE, "https://creativecommons.org/publicdomain/mark/1.0/"),
    "CC0-1.0": (PERMISSIVE, "https://creativecommons.org/publicdomain/zero/1.0/"),
    "CC-BY-4.0": (PERMISSIVE, "https://creativecommons.org/licenses/by/4.0/"),
    "CC-BY-SA-3.0": (COPYLEFT, "https://creativecommons.org/licenses/by-sa/3.0/"),
    "CC-BY-SA-4.0": (COPYLEFT, "https://creativecommons.org/licenses/by-sa/4.0/"),
    "GPL-2.0-or-later": (COPYLEFT, "https://www.gnu.org/licenses/old-licenses/gpl-2.0.html"),
    "LGPL-3.0": (COPYLEFT, "https://www.gnu.org/licenses/lgpl-3.0.html"),
}


def licence_class(licence: str) -> str:
    return LICENCES[licence][0]


@dataclass(frozen=True)
class SkimagePhoto:
    """A photograph bundled in scikit-image's wheel (skimage/data/), read through skimage.data."""

    name: str  # the skimage.data function
    title: str
    author: str
    licence: str
    url: str
    statement: str  # what skimage's docstring says about the licence; checked at gather time

    @property
    def id(self) -> str:
        return f"skimage-{self.name}"


@dataclass(frozen=True)
class DebianPhoto:
    """A photograph inside a Debian package, checked against the package's copyright file (DEP-5 stanza) or,
    for KDE wallpapers, the wallpaper's own metadata.json (the Debian file says only GPL-2+ for `Files: *`)."""

    package: str
    path: str  # inside the package, as dpkg lists it without the leading "./"
    title: str
    author: str
    licence: str
    url: str  # the upstream source named in the copyright file
    check: str  # "dep5": the copyright stanza naming the file; "kde-metadata": metadata.json beside contents/
    licence_text: str  # the licence as the checked file spells it

    @property
    def id(self) -> str:
        stem = self.path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        if self.check == "kde-metadata":
            stem = self.path.split("/wallpapers/", 1)[1].split("/", 1)[0]
        return f"{self.package}-{stem}".lower().replace("_", "-")


SKIMAGE_PHOTOS: tuple[SkimagePhoto, ...] = (
    SkimagePhoto("astronaut", "Eileen Collins, NASA astronaut", "NASA", "public-domain",
                 "https://flic.kr/p/r9qvLn", "released into the public domain"),
    SkimagePhoto("chelsea", "Chelsea the cat", "Stefan van der Walt", "CC0-1.0",
                 "https://scikit-image.org/docs/stable/api/skimage.data.html#skimage.data.chelsea", "CC0 by the photographer"),
    SkimagePhoto("coffee", "Coffee cup (Pikolo Espresso Bar)", "Rachel Michetti", "CC0-1.0",
                 "https://scikit-image.org/docs/stable/api/skimage.data.html#skimage.data.coffee", "CC0 by the photographer"),
    SkimagePhoto("rocket", "Launch of DSCOVR on Falcon 9", "SpaceX", "public-domain",
                 "https://www.flickr.com/photos/spacexphotos/16511594820/", "released in the public domain"),
)

_KDE = "https://invent.kde.org/plasma/plasma-workspace-wallpapers"
_MATE = "https://git.mate-desktop.org/mate-backgrounds/"
_LOMIRI = "https://gitlab.com/ubports/development/core/lomiri-wallpapers"


def _kde(name: str, title: str, author: str) -> DebianPhoto:
    return DebianPhoto("plasma-workspace-wallpapers", f"usr/share/wallpapers/{name}/contents/images/2560x1600.jpg",
                       title, author, "LGPL-3.0", _KDE, "kde-metadata", "LGPLv3")


def _mate(name: str, author: str) -> DebianPhoto:
    return DebianPhoto("mate-backgrounds", f"usr/share/backgrounds/mate/nature/{name}.jpg", name, author,
                       "GPL-2.0-or-later", _MATE, "dep5", "GPL-2+")


def _lomiri(package: str, file: str, author: str, licence: str) -> DebianPhoto:
    spelled = {"CC-BY-4.0": "CC-BY-4.0", "CC0-1.0": "CC0-1.0", "CC-BY-SA-4.0": "CC-BY-SA-4.0", "CC-BY-SA-3.0": "CC-BY-SA-3.0"}
    title = file.rsplit(".", 1)[0].split("_by_")[0]
    return DebianPhoto(package, f"usr/share/backgrounds/{file}", title, author, licence, _LOMIRI, "dep5", spelled[licence])


DEBIAN_PHOTOS: tuple[DebianPhoto, ...] = (
    _kde("BytheWater", "By the water", "Maciej Wiklo"),
    _kde("ColdRipple", "Cold Ripple", "Risto Saukonpää"),
    _kde("ColorfulCups", "Colorful Cups", "Dmitri Popov"),
    _kde("EveningGlow", "Evening Glow", "Ian Hex"),
    _kde("FallenLeaf", "Fallen Leaf", "Martin Klapetek"),
    _kde("Grey", "Grey", "Sigi Sagi"),
    _kde("Kite", "Kite", "Risto Saukonpää"),
    _kde("OneStandsOut", "One Stands Out", "Risto Saukonpää"),
    _kde("Path", "Path", "Risto Saukonpää"),
    _kde("summer_1am", "summer 1am", "Risto Saukonpää"),
    _mate("Aqua", "Charles Barbin"),
    _mate("Blinds", "Lennart Poettering"),
    _mate("Dune", "Marco Cogoni"),
    _mate("FreshFlower", "Jens Ansorg"),
    _mate("Garden", "Charles Barbin"),
    _mate("GreenMeadow", "Timothy Schellhase"),
    _mate("LadyBird", "Charles Barbin"),
    _mate("RainDrops", "blackcombwhistler07"),
    _mate("Storm", "Sergey Nazarov"),
    _mate("TwoWings", "Charles Barbin"),
    _mate("Wood", "Jean-François Fortin Tam"),
    _mate("YellowFlower", "Charles Barbin"),
    _lomiri("lomiri-wallpapers-16.04", "Bridge_by_Sander_Klootwijk.jpg", "Sander Klootwijk", "CC-BY-SA-4.0"),
    _lomiri("lomiri-wallpapers-16.04", "Dragonfly_by_Bolly.jpg", "Bolly", "CC-BY-SA-4.0"),
    _lomiri("lomiri-wallpapers-16.04", "Picture_0B_by_freespace.jpg", "Freespace", "CC-BY-4.0"),
    _lomiri("lomiri-wallpapers-16.04", "Picture_1A_by_freespace.jpg", "Freespace", "CC-BY-4.0"),
    _lomiri("lomiri-wallpapers-16.04", "Wine_by_Jakkub_Mede.jpg", "Jakub Mede", "CC-BY-4.0"),
    _lomiri("lomiri-wallpapers-16.04", "aitzgorri_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", "CC-BY-4.0"),
    _lomiri("lomiri-wallpapers-16.04", "analogpattern_by_Peter_Nerlich.jpg", "Peter Nerlich", "CC-BY-SA-4.0"),
    _lomiri("lomiri-wallpapers-16.04", "free_by_Peter_Nerlich.jpg", "Peter Nerlich", "CC-BY-SA-4.0"),
    _lomiri("lomiri-wallpapers-16.04", "friends_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", "CC-BY-4.0"),
    _lomiri("lomiri-wallpapers-16.04", "greentock_by_Peter_Nerlich.jpg", "Peter Nerlich", "CC-BY-SA-4.0"),
    _lomiri("lomiri-wallpapers-16.04", "life_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", "CC-BY-4.0"),
    _lomiri("lomiri-wallpapers-16.04", "picosdeeuropa_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", "CC-BY-4.0"),
    _lomiri("lomiri-wallpapers-16.04", "seeding_by_Clements_Engelhardt.jpg", "Clemens Engelhardt", "CC0-1.0"),
    _lomiri("lomiri-wallpapers-16.04", "sunset_by_Aitzol_Berasategi.jpg", "Aitzol Berasategi", "CC-BY-4.0"),
    _lomiri("lomiri-wallpapers-20.04", "Infinite-Sea_by_Aury88.jpg", "Aury88", "CC-BY-SA-3.0"),
    _lomiri("lomiri-wallpapers-20.04", "Kleiber_by_Lukas_Baubkus.jpg", "Lukas Baubkus", "CC-BY-SA-3.0"),
)

# Looked at and left out, with the reason; listed in docs/data-provenance.md so nobody has to look again.
EXCLUDED: tuple[tuple[str, str], ...] = (
    ("scikit-image: camera, clock, coins, moon, page, text, brick, grass, gravel",
     "grey-level (the models are colour), or no licence stated (moon, page)"),
    ("scikit-image: hubble_deep_field, retina, immunohistochemistry, motorcycle stereo pair",
     "astronomy/medical/microscopy imagery, or no licence stated (the Middlebury pair)"),
    ("gnome-backgrounds 43", "no photographs left in the package (its copyright file still names removed ones)"),
    ("plasma-workspace-wallpapers: Altai, Autumn, Canopee, Cascade, Cluster, DarkestHour, Elarun, Flow, "
     "FlyingKonqui, Honeywave, IceCold, Kay, Kokkini, MilkyWay, Opal, PastelHills, Patak, SafeLanding, Shell, Volna",
     "illustrations and renderings, not photographs"),
    ("mate-backgrounds: abstract/*, desktop/*", "illustrations and renderings, not photographs"),
    ("lomiri-wallpapers-16.04: umang; lomiri-wallpapers-20.04: Fossa; lomiri-wallpapers: all",
     "illustrations, not photographs"),
    ("lomiri-wallpapers-20.04: Painting-Colors_by__herobrine7gamer.jpg", "no licence stated in the copyright file"),
    ("ukui-wallpapers, sway-backgrounds, desktop-base", "illustrations and logos, not photographs"),
)
