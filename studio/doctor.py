"""`studio doctor`: what this installation found (Python, torch and its device, GPU memory, resources, model
folders, plugins) and what is missing, with how to fix it.

Every check is guarded: a broken or half-installed environment gets a report, never a traceback. Exit status
0 when Studio can run, 1 when something essential is missing. Heavy imports (torch, diffusers) happen only
inside the checks, so the report also works where they are absent.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

MIN_PYTHON = (3, 10)
GIB = 1024**3
LOW_GPU_MEMORY = 2 * GIB  # below this even SD 1.x at 512x512 in half precision struggles
# (import name, distribution name, what it is for, essential, imported): a library that is not `imported` is only
# looked for (importing it is slow); torchvision is imported because a build that does not match torch fails then.
LIBRARIES = (
    ("torchvision", "torchvision", "image operations for ControlNet preprocessors", True, True),
    ("diffusers", "diffusers", "runs the pipelines", True, True),
    ("transformers", "transformers", "text encoders", True, True),
    ("safetensors", "safetensors", "reads checkpoints", True, True),
    ("numpy", "numpy", "pictures as arrays", True, True),
    ("PIL", "pillow", "reads and writes pictures", True, True),
    ("platformdirs", "platformdirs", "finds the settings folder", True, True),
    ("PySide6", "PySide6-Essentials", "the window", True, True),
    ("controlnet_aux", "controlnet-aux", "ControlNet preprocessors", False, False),
    ("peft", "peft", "LoRAs (diffusers' LoRA loader)", False, False),
)


@dataclass
class Problem:
    what: str
    fix: str
    essential: bool


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def item(self, label: str, value: str) -> None:
        self.lines.append(f"  {label:<16}{value}")

    def sub(self, text: str) -> None:
        self.lines.append(f"  {'':<16}{text}")

    def problem(self, what: str, fix: str, essential: bool = False) -> None:
        self.problems.append(Problem(what, fix, essential))

    @property
    def usable(self) -> bool:
        return not any(p.essential for p in self.problems)


def _installer_hint() -> str:
    if sys.platform == "win32":
        return "run installer\\install.ps1 -Update"
    return "run installer/install.sh --update"


def _reinstall_torch_flag() -> str:
    return "-ReinstallTorch" if sys.platform == "win32" else "--reinstall-torch"


def _pip_hint(requirement: str) -> str:
    return f'{_installer_hint()}, or: "{sys.executable}" -m pip install "{requirement}"'


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def _import(name: str) -> tuple[Any | None, str | None]:
    """(module, None) or (None, one line saying why it does not import)."""
    try:
        return importlib.import_module(name), None
    except Exception as error:  # ImportError, but also a broken package raising anything at import
        return None, f"{type(error).__name__}: {error}".splitlines()[0]


# --- the checks, one per section -------------------------------------------------------------------------


def check_python(report: Report) -> None:
    version = ".".join(map(str, sys.version_info[:3]))
    report.item("Python", f"{version} ({sys.executable})")
    if sys.version_info[:2] < MIN_PYTHON:
        wanted = ".".join(map(str, MIN_PYTHON))
        report.problem(f"Python {version} is too old (Studio needs {wanted} or newer)",
                       f"install Python {wanted}+ and run the installer again", essential=True)


def check_studio(report: Report) -> None:
    import studio

    where = Path(studio.__file__).resolve().parent
    report.item("Studio", f"{studio.__version__} ({where})")
    report.item("Platform", f"{platform.system()} {platform.release()} ({platform.machine()})")


def _torch_build(torch: Any) -> str:
    version = getattr(torch, "version", None)
    if getattr(version, "hip", None):
        return f"ROCm {version.hip} build"
    if getattr(version, "cuda", None):
        return f"CUDA {version.cuda} build"
    return "CPU build" if sys.platform != "darwin" else "macOS build"


def _mps_available(torch: Any) -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def _chosen_device(torch: Any) -> tuple[str, str]:
    """(device Studio will run on, why), the way the engine picks it."""
    wanted = os.environ.get("STUDIO_DEVICE")
    try:
        from studio.engine.device import pick_device

        device = str(pick_device())
    except Exception:  # the engine itself cannot be imported: say what torch alone offers
        device = wanted or ("cuda" if torch.cuda.is_available() else "mps" if _mps_available(torch) else "cpu")
    return device, ("set by STUDIO_DEVICE" if wanted else "the best one found")


def _gpu_lines(torch: Any, report: Report) -> None:
    if torch.cuda.is_available():
        kind = "ROCm" if getattr(torch.version, "hip", None) else "CUDA"
        for index in range(torch.cuda.device_count()):
            name = torch.cuda.get_device_name(index)
            try:
                free, total = torch.cuda.mem_get_info(index)
                memory = f"{free / GIB:.1f} GiB free of {total / GIB:.1f} GiB"
                if free < LOW_GPU_MEMORY:
                    report.problem(f"cuda:{index} has only {free / GIB:.1f} GiB free (SD 1.x needs about 2.5, SDXL "
                                   "about 8)", "close other programs that use the GPU (games, other AI tools)")
            except Exception as error:
                memory = f"memory unknown ({type(error).__name__})"
            report.item("GPU" if index == 0 else "", f"cuda:{index} {name} ({kind}): {memory}")
    elif _mps_available(torch):
        memory = "shares the computer's memory"
        recommended = getattr(getattr(torch, "mps", None), "recommended_max_memory", None)
        if callable(recommended):
            try:
                memory += f", up to {recommended() / GIB:.1f} GiB for the GPU"
            except Exception:
                pass
        report.item("GPU", f"Apple GPU (MPS): {memory}")
    else:
        report.item("GPU", "none usable")


def check_torch(report: Report) -> None:
    torch, why = _import("torch")
    if torch is None:
        report.item("torch", f"missing ({why})")
        report.problem("torch is not installed or does not import",
                       f"{_installer_hint()} (it picks the torch build for your GPU)", essential=True)
        return
    report.item("torch", f"{torch.__version__} ({_torch_build(torch)})")
    device, why = _chosen_device(torch)
    report.item("Device", f"{device} ({why})")
    try:
        _gpu_lines(torch, report)
    except Exception as error:
        report.item("GPU", f"could not be queried ({type(error).__name__}: {error})")

    has_gpu_build = bool(getattr(torch.version, "cuda", None) or getattr(torch.version, "hip", None))
    if not torch.cuda.is_available() and not _mps_available(torch):
        if shutil.which("nvidia-smi") and not has_gpu_build:
            report.problem("an NVIDIA GPU is present but this torch is the CPU build",
                           f"{_installer_hint()} {_reinstall_torch_flag()} (installs the CUDA build)")
        elif has_gpu_build:
            report.problem(f"this torch is a {_torch_build(torch)} but no GPU is usable (driver missing, too old "
                           "or not loaded)", "update the GPU driver, or reinstall torch for the CPU: "
                           f"{_installer_hint()} {_reinstall_torch_flag()} {'-Cpu' if sys.platform == 'win32' else '--cpu'}")
        else:
            report.problem("no GPU found: pictures are computed on the CPU, which is slow (minutes per picture)",
                           "nothing to do on a computer without a supported GPU; after adding an NVIDIA or AMD GPU, "
                           f"{_installer_hint()} {_reinstall_torch_flag()}")


def _find(name: str) -> str | None:
    """None when the module can be found (without importing it), else why not."""
    try:
        return None if importlib.util.find_spec(name) is not None else f"No module named {name!r}"
    except Exception as error:
        return f"{type(error).__name__}: {error}"


def check_libraries(report: Report) -> None:
    for module, distribution, purpose, essential, imported in LIBRARIES:
        why = _import(module)[1] if imported else _find(module)
        version = _version(distribution) or _version(module)
        if why is None:
            report.item(module, version or "installed")
            continue
        report.item(module, f"missing ({why})" if version is None else f"{version}, broken ({why})")
        if module == "torchvision" and version is not None:
            fix = f"{_installer_hint()} {_reinstall_torch_flag()} (installs torch and a torchvision built for it)"
            report.problem(f"torchvision {version} does not work with this torch ({why})", fix, essential=essential)
        else:
            report.problem(f"{module} ({purpose}) is missing or broken", _pip_hint(distribution), essential=essential)


def check_resources(report: Report) -> None:
    from studio.core import resources

    folder = resources.resources_dir()
    families = resources.known_families()
    vocab, merges = resources.clip_tokenizer_files()
    tokenizer_ok = vocab.is_file() and merges.is_file()
    if os.environ.get(resources.ENV_VAR):
        source = f"from {resources.ENV_VAR}"
    elif folder == resources.packaged_resources_dir():
        source = "installed with the package"
    else:
        source = "repository checkout"
    report.item("Resources", f"{folder} ({source})")
    report.sub(f"model configs: {', '.join(families) if families else 'none'}")
    report.sub(f"CLIP tokenizer: {'found' if tokenizer_ok else 'missing'}")
    report.sub(f"starter models: {_starters()}")
    fix = (f"unset {resources.ENV_VAR} or point it at a complete resources/ folder" if os.environ.get(resources.ENV_VAR)
           else f"reinstall Studio ({_installer_hint()}); a wheel must carry studio/_resources")
    if not folder.is_dir():
        report.problem(f"the resources folder {folder} does not exist", fix, essential=True)
        return
    if not families:
        report.problem(f"no model configs under {folder / 'models'}", fix, essential=True)
    if not tokenizer_ok:
        report.problem(f"the CLIP tokenizer files are missing ({vocab.name}, {merges.name} under {vocab.parent})",
                       fix, essential=True)


def _starters() -> str:
    """The bundled starter models (usable with no checkpoint), named with what they do."""
    from studio.core.checkpoints import inspect
    from studio.core.starter import bundled_starters

    found = [inspect(folder) for folder in bundled_starters()]
    if not found:
        return "none shipped with this copy (add a Stable Diffusion checkpoint to generate)"
    roles = {"starter": "inpaint, SDEdit", "starter_sr": "×4 upscale"}
    return ", ".join(f"{info.name} ({info.problem or roles.get(info.family, info.kind)})" for info in found)


def _settings_file() -> Path:
    try:
        from studio.core.settings import settings_path

        return settings_path()
    except Exception:
        from platformdirs import user_config_dir

        return Path(user_config_dir("studio", appauthor=False)) / "settings.json"


def _read_settings(path: Path) -> tuple[dict, str | None]:
    """The settings as a dict (read only: a damaged file is reported, never moved or rewritten)."""
    if not path.exists():
        return {}, None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        return {}, f"{type(error).__name__}: {error}"
    return (data, None) if isinstance(data, dict) else ({}, "not a JSON object")


def _strings(value: Any) -> list[str]:
    return [item for item in value if isinstance(item, str)] if isinstance(value, list) else []


def _describe_checkpoints(found: list) -> str:
    families: dict[str, int] = {}
    for info in found:  # a LoRA or an embedding for SD 1.x is no SD 1.x checkpoint: its kind goes first
        what = info.family if info.kind == "pipeline" and info.family else " ".join(filter(None, (info.kind, info.family)))
        families[what] = families.get(what, 0) + 1
    usable = sum(1 for info in found if not info.problem)
    detail = ", ".join(f"{name}: {count}" for name, count in sorted(families.items()))
    text = f"{len(found)} checkpoint{'s' if len(found) != 1 else ''}"
    if found:
        text += f" ({detail})"
    if usable < len(found):
        text += f", {len(found) - usable} not usable as they are"
    return text


def check_models(report: Report) -> None:
    path = _settings_file()
    settings, damaged = _read_settings(path)
    state = "damaged: " + damaged if damaged else ("found" if path.exists() else "not written yet")
    report.item("Settings", f"{path} ({state})")
    if damaged:
        report.problem(f"the settings file cannot be read ({damaged})",
                       f"Studio sets it aside and starts with defaults; or delete {path}")
    folders = _strings(settings.get("model_folders"))
    files = _strings(settings.get("model_files"))
    total = 0
    if not folders:
        report.item("Model folders", "none configured")
    else:
        from studio.core.checkpoints import scan_folder

        report.item("Model folders", "")
        for folder in folders:
            where = Path(folder).expanduser()
            if not where.is_dir():
                report.sub(f"{where}: not found")
                report.problem(f"the model folder {where} does not exist (moved, or a drive not mounted?)",
                               "mount it again, or remove it in the window's model list")
                continue
            try:
                found = scan_folder(where)
            except Exception as error:
                report.sub(f"{where}: cannot be read ({type(error).__name__}: {error})")
                continue
            total += sum(1 for info in found if info.kind == "pipeline" and not info.problem)
            report.sub(f"{where}: {_describe_checkpoints(found)}")
    if files:
        present = [f for f in files if Path(f).expanduser().exists()]
        total += len(present)
        missing = len(files) - len(present)
        report.item("Model files", f"{len(files)} added one by one" + (f", {missing} no longer on disk" if missing else ""))
    if total == 0:
        report.problem("no usable checkpoint found yet",
                       "add a Stable Diffusion 1.x, 2.x or SDXL checkpoint (.safetensors or a diffusers folder) in the "
                       "window, or a models folder such as AUTOMATIC1111's models/Stable-diffusion")


def check_plugins(report: Report) -> None:
    plugins, why = _import("studio.plugins")
    if plugins is None:
        report.item("Plugins", f"the plugin API does not import ({why})")
        report.problem("the plugin API does not import", f"reinstall Studio ({_installer_hint()})", essential=True)
        return
    listing = getattr(plugins, "list_plugins", None)
    if not callable(listing):  # an older plugin API: only the built-in table
        builtins, _ = _import("studio.plugins.builtins")
        count = len(getattr(builtins, "BUILTIN_SAMPLERS", {}))
        report.item("Plugins", f"API version {getattr(plugins, 'API_VERSION', '?')}, {count} built-in samplers")
        return
    infos = list(listing())
    builtin = [info for info in infos if getattr(info, "origin", "") == "builtin"]
    others = [info for info in infos if getattr(info, "origin", "") != "builtin"]
    kinds: dict[str, int] = {}
    for info in builtin:
        kinds[info.kind] = kinds.get(info.kind, 0) + 1
    built = ", ".join(f"{kind}: {count}" for kind, count in sorted(kinds.items()))
    report.item("Plugins", f"API version {getattr(plugins, 'API_VERSION', '?')}; built in: {built or 'none'}")
    folder = getattr(plugins, "plugins_dir", None)
    if callable(folder):
        report.sub(f"plugins folder: {folder()}")
    if not others:
        report.sub("installed: none")
    for info in others:
        version = f" {info.version}" if getattr(info, "version", "") else ""
        report.sub(f"{info.kind} {info.name}{version} ({info.origin}): {info.status}")
        if getattr(info, "problem", None):
            report.problem(f"the {info.kind} plugin {info.name!r} cannot be used: {info.problem}",
                           f"update or remove it: studio plugins remove {info.name}")


CHECKS: tuple[tuple[str, Callable[[Report], None]], ...] = (
    ("Python", check_python),
    ("Studio", check_studio),
    ("torch", check_torch),
    ("libraries", check_libraries),
    ("resources", check_resources),
    ("model folders", check_models),
    ("plugins", check_plugins),
)


def diagnose() -> Report:
    report = Report()
    for name, check in CHECKS:
        try:
            check(report)
        except Exception as error:  # a check itself failing is a finding, not a crash
            report.item(name, f"check failed ({type(error).__name__}: {error})")
            report.problem(f"the {name} check failed: {type(error).__name__}: {error}",
                           f"reinstall Studio ({_installer_hint()})", essential=True)
    return report


def render(report: Report) -> str:
    lines = ["Studio doctor", *report.lines, ""]
    if report.problems:
        lines.append("Missing, and how to fix it")
        for problem in sorted(report.problems, key=lambda p: not p.essential):
            lines.append(f"  {'[essential]' if problem.essential else '[note]':<12}{problem.what}")
            lines.append(f"  {'':<12}fix: {problem.fix}")
        lines.append("")
    essential = sum(p.essential for p in report.problems)
    if essential:
        lines.append(f"Studio cannot run: {essential} essential problem{'s' if essential > 1 else ''} above.")
    else:
        lines.append("Studio is ready." + (" (See the notes above.)" if report.problems else ""))
    return "\n".join(lines) + "\n"


def run_doctor(out: TextIO = sys.stdout) -> int:
    """Print the report to `out`; 0 when Studio can run, 1 when something essential is missing."""
    try:
        report = diagnose()
        out.write(render(report))
        out.flush()
        return 0 if report.usable else 1
    except Exception as error:  # last resort: the promise is one line, never a traceback
        print(f"studio: error: doctor failed: {type(error).__name__}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(run_doctor())
