"""Installed plugin distributions written by hand into a folder (as pip --target leaves them), so discovery is
tested without building anything."""

from __future__ import annotations

import itertools
import json
import textwrap
from pathlib import Path

_counter = itertools.count()

K_EULER = '''
def sample(model, x, sigmas, callback, options):
    """Euler steps on the probability-flow ODE, k-diffusion style."""
    for i in range(len(sigmas) - 1):
        denoised = model(x, sigmas[i])
        x = x + (sigmas[i + 1] - sigmas[i]) * (x - denoised) / sigmas[i]
        callback({"i": i, "x": x, "sigma": sigmas[i], "denoised": denoised})
    return x
'''


def write_dist(folder: Path, manifests: dict[str, dict] | None = None, code: str = K_EULER, manifest_code: str | None = None,
               dist: str | None = None, version: str = "1.0.0") -> str:
    """A distribution with a package holding `MANIFESTS[name]` and an `impl` module; returns the package name.
    `manifests` maps entry point name → manifest dict (kind from the dict, default sampler)."""
    package = f"fake_plugin_{next(_counter)}"
    dist = dist or package.replace("_", "-")
    manifests = manifests or {"fake_euler": {"kind": "sampler", "style": "k-diffusion"}}
    root = folder / package
    root.mkdir(parents=True)
    full = {}
    for name, manifest in manifests.items():
        full[name] = {"name": name, "api_version": 1, "implementation": f"{package}.impl:sample", **manifest}
    body = manifest_code if manifest_code is not None else f"MANIFESTS = {json.dumps(full)}\n"
    (root / "__init__.py").write_text(body.replace("true", "True").replace("false", "False").replace("null", "None"))
    (root / "impl.py").write_text(textwrap.dedent(code))
    info = folder / f"{package}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\nRequires-Dist: torch\n")
    groups: dict[str, list[str]] = {}
    for name, manifest in manifests.items():
        group = "studio.guidance" if manifest.get("kind") == "guidance" else "studio.samplers"
        groups.setdefault(group, []).append(f"{name} = {package}:{_getter(root, name)}")
    (info / "entry_points.txt").write_text("".join(f"[{g}]\n" + "\n".join(lines) + "\n\n" for g, lines in groups.items()))
    files = [f"{package}/__init__.py", f"{package}/impl.py"] + [f"{info.name}/{f}" for f in ("METADATA", "entry_points.txt", "RECORD")]
    (info / "RECORD").write_text("".join(f"{f},,\n" for f in files))
    return package


def _getter(root: Path, name: str) -> str:
    """Entry points name a module attribute: one per manifest, `manifest_<name>`."""
    with open(root / "__init__.py", "a") as out:
        out.write(f"\ndef manifest_{name}():\n    return MANIFESTS[{name!r}]\n")
    return f"manifest_{name}"
