"""The installer scripts: shell syntax and lint, the torch build they pick for each kind of computer (with
stand-ins for nvidia-smi, rocminfo and uname on PATH), their options, and the Windows script's shape."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.installer.conftest import ROOT

INSTALL_SH = ROOT / "installer" / "install.sh"
INSTALL_PS1 = ROOT / "installer" / "install.ps1"
TORCH = "torch torchvision"  # always together, from one index, so that they match
CPU_INDEX = "--index-url https://download.pytorch.org/whl/cpu"

bash_only = pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")


def stub(folder: Path, name: str, script: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + script + "\n")
    path.chmod(0o755)


def nvidia_smi(cuda: str, capability: str = "8.6") -> str:
    return (f'case "$*" in *compute_cap*) echo {capability} ;; '
            f'*) echo "| NVIDIA-SMI 550.54.14   Driver Version: 550.54.14   CUDA Version: {cuda}     |" ;; esac')


@pytest.fixture
def fake_bin(tmp_path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    stub(folder, "nvidia-smi", "exit 9")  # by default: no NVIDIA driver, whatever the machine running the tests has
    return folder


def show_torch(fake_bin: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("STUDIO_TORCH")}
    environment.update({"PATH": f"{fake_bin}:/usr/bin:/bin", **(env or {})})
    return subprocess.run(["bash", str(INSTALL_SH), "--show-torch", *args], capture_output=True, text=True,
                          env=environment)


def planned(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()[-1]


@bash_only
def test_the_shell_script_parses():
    result = subprocess.run(["bash", "-n", str(INSTALL_SH)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert INSTALL_SH.read_text().startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in INSTALL_SH.read_text()
    assert os.access(INSTALL_SH, os.X_OK), "install.sh must be executable"


def test_the_shell_script_passes_shellcheck():
    if shutil.which("shellcheck") is None:
        pytest.skip("shellcheck is not installed (apt-get install shellcheck); bash -n still checks the syntax")
    result = subprocess.run(["shellcheck", "--shell=bash", str(INSTALL_SH)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout


def test_the_shell_script_keeps_to_the_bash_macos_ships():
    """macOS has bash 3.2: no associative arrays, mapfile or ${var,,}; empty arrays need ${a[@]+...} under set -u."""
    text = "\n".join(line for line in INSTALL_SH.read_text().splitlines() if not line.lstrip().startswith("#"))
    for construct in ("declare -A", "mapfile", "readarray", ",,}", "^^}", "|&", "coproc"):
        assert construct not in text, construct
    for expansion in re.findall(r'(?<!\+)"\$\{(\w+)\[@\]\}"', text):
        assert expansion == "TORCH_ARGS", f"${{{expansion}[@]}} may be empty: use ${{{expansion}[@]+...}}"


@bash_only
@pytest.mark.parametrize(
    "cuda, capability, index",
    [
        ("12.4", "8.6", "cu124"),
        ("12.9", "8.9", "cu128"),
        ("13.0", "12.0", "cu130"),
        ("12.2", "7.5", "cu121"),
        ("11.8", "7.5", "cu118"),
        ("13.0", "6.1", "cu126"),  # Pascal: the newest builds no longer run it
        ("13.0", "7.0", "cu128"),  # Volta
    ],
)
def test_nvidia_gets_the_newest_cuda_build_its_driver_runs(fake_bin, cuda, capability, index):
    stub(fake_bin, "nvidia-smi", nvidia_smi(cuda, capability))
    result = show_torch(fake_bin)
    assert planned(result) == f"pip install {TORCH} --index-url https://download.pytorch.org/whl/{index}"
    assert f"CUDA {cuda}" in result.stdout


@bash_only
def test_an_nvidia_driver_too_old_for_any_build_falls_back_to_the_cpu(fake_bin):
    stub(fake_bin, "nvidia-smi", nvidia_smi("11.4"))
    result = show_torch(fake_bin)
    assert planned(result) == f"pip install {TORCH} {CPU_INDEX}"
    assert "too old" in result.stdout


@bash_only
def test_amd_gets_the_rocm_build(fake_bin):
    stub(fake_bin, "rocminfo", "exit 0")
    assert re.fullmatch(r"pip install torch torchvision --index-url https://download.pytorch.org/whl/rocm[\d.]+",
                        planned(show_torch(fake_bin)))


@bash_only
def test_no_gpu_gets_the_cpu_build(fake_bin):
    if os.path.exists("/dev/kfd") or shutil.which("rocminfo", path="/usr/bin:/bin"):
        pytest.skip("this machine has an AMD GPU driver, so the installer rightly picks ROCm")
    result = show_torch(fake_bin)
    assert planned(result) == f"pip install {TORCH} {CPU_INDEX}"
    assert "no NVIDIA or AMD GPU" in result.stdout


@bash_only
def test_cpu_and_an_explicit_torch_override_the_detection(fake_bin):
    stub(fake_bin, "nvidia-smi", nvidia_smi("12.4"))
    assert planned(show_torch(fake_bin, "--cpu")) == f"pip install {TORCH} {CPU_INDEX}"
    spec = "torch==2.13.0 torchvision==0.28.0"
    assert planned(show_torch(fake_bin, "--torch", spec)) == f"pip install {spec}"
    assert planned(show_torch(fake_bin, f"--torch={spec}", "--torch-index", "https://example.org/simple")) == \
        f"pip install {spec} --index-url https://example.org/simple"
    assert planned(show_torch(fake_bin, "--torch-index", "https://example.org/simple")) == \
        f"pip install {TORCH} --index-url https://example.org/simple"
    assert planned(show_torch(fake_bin, env={"STUDIO_TORCH_SPEC": "torch>=2.5"})) == "pip install torch>=2.5"


@bash_only
def test_apple_silicon_gets_torch_from_pypi_and_intel_macs_a_clear_no(fake_bin):
    stub(fake_bin, "uname", 'case "$1" in -s) echo Darwin ;; -m) echo arm64 ;; esac')
    result = show_torch(fake_bin)
    assert planned(result) == f"pip install {TORCH}" and "MPS" in result.stdout

    stub(fake_bin, "uname", 'case "$1" in -s) echo Darwin ;; -m) echo x86_64 ;; esac')
    stub(fake_bin, "sysctl", "echo 0")
    result = show_torch(fake_bin)
    assert result.returncode == 1 and "Intel Macs" in result.stderr

    stub(fake_bin, "sysctl", "echo 1")
    result = show_torch(fake_bin)
    assert result.returncode == 1 and "Rosetta" in result.stderr


@bash_only
def test_other_systems_are_sent_to_the_windows_script(fake_bin):
    stub(fake_bin, "uname", "echo MINGW64_NT-10.0")
    result = show_torch(fake_bin)
    assert result.returncode == 1 and "install.ps1" in result.stderr


@bash_only
def test_bad_options_and_sources_are_one_line_errors(tmp_path):
    unknown = subprocess.run(["bash", str(INSTALL_SH), "--frobnicate"], capture_output=True, text=True)
    assert unknown.returncode == 1 and unknown.stderr.strip() == \
        "studio-installer: error: unknown option --frobnicate (see --help)"
    missing = subprocess.run(["bash", str(INSTALL_SH), "--prefix"], capture_output=True, text=True)
    assert missing.returncode == 1 and "--prefix needs a value" in missing.stderr
    nowhere = subprocess.run(["bash", str(INSTALL_SH), "--prefix", tmp_path / "p", "--source", tmp_path / "no.whl",
                              "--torch", "torch"], capture_output=True, text=True)
    assert nowhere.returncode == 1 and "no such file or folder" in nowhere.stderr
    assert not (tmp_path / "p").exists(), "nothing is made before the source is known to exist"
    helped = subprocess.run(["bash", str(INSTALL_SH), "--help"], capture_output=True, text=True)
    assert helped.returncode == 0
    for option in ("--prefix", "--source", "--cpu", "--torch", "--update", "--uninstall", "--no-launcher"):
        assert option in helped.stdout


@bash_only
def test_update_and_uninstall_of_nothing_say_so(tmp_path):
    update = subprocess.run(["bash", str(INSTALL_SH), "--update", "--prefix", tmp_path / "none"],
                            capture_output=True, text=True)
    assert update.returncode == 1 and "not installed" in update.stderr
    uninstall = subprocess.run(["bash", str(INSTALL_SH), "--uninstall", "--prefix", tmp_path / "none"],
                               capture_output=True, text=True)
    assert uninstall.returncode == 0 and "nothing to remove" in uninstall.stdout


def test_the_powershell_script_parses():
    pwsh = shutil.which("pwsh") or shutil.which("powershell")
    if pwsh is None:
        pytest.skip("PowerShell is not installed here (Debian has no package for it); the parse check runs where it is")
    command = ("$errors = $null; [System.Management.Automation.Language.Parser]::ParseFile("
               f"'{INSTALL_PS1}', [ref]$null, [ref]$errors) | Out-Null; "
               "$errors | ForEach-Object { $_.ToString() }; exit $errors.Count")
    result = subprocess.run([pwsh, "-NoProfile", "-NonInteractive", "-Command", command], capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_powershell_script_offers_the_same_options_and_a_start_menu_shortcut():
    text = INSTALL_PS1.read_text()
    for parameter in ("Prefix", "Source", "Torch", "TorchIndex", "Python", "Cpu", "Update", "ReinstallTorch",
                      "Uninstall", "NoLauncher", "ShowTorch"):
        assert re.search(rf"\[(string|switch)\]\${parameter}\b", text), parameter
    assert "Set-StrictMode -Version Latest" in text and '$ErrorActionPreference = "Stop"' in text
    assert "WScript.Shell" in text and "Start Menu\\Programs" in text and "Studio.lnk" in text
    assert "nvidia-smi" in text and "download.pytorch.org/whl" in text
    # the same table of CUDA builds as the shell script
    sh_builds = re.search(r'CUDA_BUILDS="([\d ]+)"', INSTALL_SH.read_text()).group(1).split()
    ps_builds = re.search(r"\$CudaBuilds = @\(([\d, ]+)\)", text).group(1).replace(" ", "").split(",")
    assert sh_builds == ps_builds
    for a, b in (("(", ")"), ("{", "}"), ("[", "]")):  # a rough balance check, where no parser is at hand
        assert text.count(a) == text.count(b), f"unbalanced {a}{b}"


def test_without_a_source_it_installs_the_checkout_around_it_or_says_what_to_pass(tmp_path):
    """The name "studio" on PyPI is an unrelated project: the installer never falls back to it."""
    assert "DEFAULT_SOURCE" not in INSTALL_SH.read_text()
    script = INSTALL_SH.read_text()
    piped = subprocess.run(["bash", "-s", "--", "--prefix", str(tmp_path / "p"), "--no-launcher"], input=script,
                           capture_output=True, text=True, timeout=120)
    assert piped.returncode != 0
    assert "nothing to install from" in piped.stderr and "--source" in piped.stderr
    here = subprocess.run(["bash", "-c", f'source "{INSTALL_SH}" --show-torch >/dev/null; script_checkout'],
                          capture_output=True, text=True, timeout=120)
    assert here.stdout.strip() == str(INSTALL_SH.resolve().parents[1])
