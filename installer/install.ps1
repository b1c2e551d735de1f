<#
.SYNOPSIS
    Studio installer for Windows: an isolated Python environment, the torch build that fits this computer's
    GPU, Studio itself, and a Start-menu shortcut.

.DESCRIPTION
    install.ps1 [-Prefix DIR] [-Cpu | -Torch SPEC] [-Source PATH_OR_WHEEL_OR_REQUIREMENT] [-NoLauncher]
    install.ps1 -Update [-ReinstallTorch]   upgrade Studio (torch is kept unless asked)
    install.ps1 -Uninstall                  remove Studio (settings and models are kept)
    install.ps1 -ShowTorch                  print the torch build it would pick, and exit

    Works with Windows PowerShell 5.1 and PowerShell 7. See installer/README.md for every option.
    Environment: STUDIO_PIP_ARGS adds arguments to every pip install (e.g. "--no-compile").

.EXAMPLE
    powershell -ExecutionPolicy Bypass -File installer\install.ps1
#>
[CmdletBinding()]
param(
    [string]$Prefix = "",
    [string]$Source = "",
    [string]$Torch = $env:STUDIO_TORCH_SPEC,
    [string]$TorchIndex = $env:STUDIO_TORCH_INDEX,
    [string]$Python = $env:STUDIO_PYTHON,
    [switch]$Cpu,
    [switch]$Update,
    [switch]$ReinstallTorch,
    [switch]$Uninstall,
    [switch]$NoLauncher,
    [switch]$ShowTorch
)

Set-StrictMode -Version Latest
$ErrorActionPreference = "Stop"

# --- what is installed from where ---------------------------------------------------------------------------
# No published package yet (the name "studio" on PyPI is someone else's project): by default Studio is built
# from the checkout or release archive this script sits in; -Source names anything else.
$TorchIndexBase = if ($env:STUDIO_TORCH_INDEX_BASE) { $env:STUDIO_TORCH_INDEX_BASE } else { "https://download.pytorch.org/whl" }
$TorchPackages = @("torch", "torchvision")                 # installed together, from the same index, so that they match
$CudaBuilds = @(130, 128, 126, 124, 121, 118)               # PyTorch's CUDA indexes (cuXYZ), newest first
$MinPythonMinor = 10                                        # Python 3.10+

if (-not $Prefix) { $Prefix = Join-Path $env:LOCALAPPDATA "Studio" }
$Prefix = $ExecutionContext.SessionState.Path.GetUnresolvedProviderPathFromPSPath($Prefix)
$Venv = Join-Path $Prefix "venv"
$VenvPython = Join-Path $Venv "Scripts\python.exe"
$VenvPythonW = Join-Path $Venv "Scripts\pythonw.exe"
$StudioExe = Join-Path $Venv "Scripts\studio.exe"
$Conf = Join-Path $Prefix "install.conf"
$Manifest = Join-Path $Prefix "launcher-files"
$StartMenu = Join-Path $env:APPDATA "Microsoft\Windows\Start Menu\Programs"
$PipExtra = @()
if ($env:STUDIO_PIP_ARGS) { $PipExtra = @($env:STUDIO_PIP_ARGS -split "\s+" | Where-Object { $_ }) }

function Say([string]$Message) { Write-Host "studio-installer: $Message" }
function Warn([string]$Message) { Write-Warning "studio-installer: $Message" }
function Die([string]$Message) {
    # exit ends the PowerShell process: run the installer with -File, or in its own powershell (see README)
    Write-Host "studio-installer: error: $Message" -ForegroundColor Red
    exit 1
}

function Get-Output([string]$Program, [string[]]$Arguments) {
    # A native program's standard output, or $null when it cannot run or fails. Windows PowerShell 5.1 turns
    # a native program's stderr into errors under "Stop", hence the try and the local preference.
    $ErrorActionPreference = "Continue"
    try {
        $output = & $Program @Arguments 2>$null
        if ($LASTEXITCODE -ne 0) { return $null }
        return $output
    }
    catch { return $null }
}

function Invoke-Native {
    # Runs a program; native programs do not throw on failure, so check the exit code.
    param([string]$Program, [string[]]$Arguments, [string]$Failure)
    & $Program @Arguments
    if ($LASTEXITCODE -ne 0) { Die "$Failure (exit code $LASTEXITCODE)" }
}

# --- torch: which build for this computer --------------------------------------------------------------------
function Get-NvidiaCuda {
    # The highest CUDA version the installed driver runs, from nvidia-smi's banner; $null without NVIDIA.
    $smi = Get-Command nvidia-smi -ErrorAction SilentlyContinue
    if (-not $smi) { return $null }
    $banner = Get-Output $smi.Source @()
    if (-not $banner) { return $null }
    $match = [regex]::Match(($banner | Out-String), "CUDA Version:\s*(\d+)\.(\d+)")
    if (-not $match.Success) { return $null }
    $capability = $null
    $caps = @(Get-Output $smi.Source @("--query-gpu=compute_cap", "--format=csv,noheader") |
            ForEach-Object { "$_".Trim() } | Where-Object { $_ -match "^\d+\.\d+$" } |
            ForEach-Object { [double]$_ } | Sort-Object)
    if ($caps.Count -gt 0) { $capability = $caps[0] }
    return @{ Major = [int]$match.Groups[1].Value; Minor = [int]$match.Groups[2].Value; Capability = $capability }
}

function Get-CudaBuild($Cuda) {
    $have = $Cuda.Major * 10 + $Cuda.Minor
    $ceiling = 999
    # newer CUDA builds dropped old GPUs: before Volta (7.0) stop at 12.6, before Turing (7.5) at 12.8
    if ($Cuda.Capability -and $Cuda.Capability -lt 7.0) { $ceiling = 126 }
    elseif ($Cuda.Capability -and $Cuda.Capability -lt 7.5) { $ceiling = 128 }
    foreach ($build in $CudaBuilds) {
        if ($build -le $have -and $build -le $ceiling) { return "cu$build" }
    }
    return $null
}

function Select-Torch {
    # Returns @{ Args = pip arguments; Why = one line for the user }
    $asked = @()
    if ($Torch) { $asked = @($Torch -split "\s+" | Where-Object { $_ }) }
    if ($Torch) {
        $plan = @{ Args = $asked; Why = "torch as asked: $Torch" }
    }
    elseif ($Cpu) {
        $plan = @{ Args = $TorchPackages; Why = "the CPU build of torch, as asked (-Cpu)" }   # PyPI's Windows wheels are CPU builds
    }
    else {
        $cuda = Get-NvidiaCuda
        $build = $null
        if ($cuda) { $build = Get-CudaBuild $cuda }
        if ($build) {
            $plan = @{ Args = $TorchPackages + @("--index-url", "$TorchIndexBase/$build")
                Why = "NVIDIA GPU, driver for CUDA $($cuda.Major).$($cuda.Minor): torch for CUDA ($build)" }
        }
        elseif ($cuda) {
            $plan = @{ Args = $TorchPackages
                Why = "NVIDIA GPU, but its driver (CUDA $($cuda.Major).$($cuda.Minor)) is too old for current torch: using the CPU; update the driver and run with -Update -ReinstallTorch" }
        }
        else {
            $plan = @{ Args = $TorchPackages; Why = "no NVIDIA GPU found: the CPU build of torch (slow, but works)" }
        }
    }
    if ($TorchIndex) {
        $names = $TorchPackages
        if ($Torch) { $names = $asked }
        $plan.Args = $names + @("--index-url", $TorchIndex)
    }
    return $plan
}

# --- Python and pip ------------------------------------------------------------------------------------------
function Test-Python([string[]]$Command) {
    # True when the command (program and its first arguments) runs a Python 3.10+.
    $rest = @()
    if ($Command.Count -gt 1) { $rest = $Command[1..($Command.Count - 1)] }
    $check = "import sys; print(sys.version_info >= (3, $MinPythonMinor))"
    return ((Get-Output $Command[0] ($rest + @("-c", $check))) -eq "True")
}

function Find-Python {
    if ($Python) {
        if (Test-Python @($Python)) { return , @($Python) }
        Die "$Python is not a Python 3.$MinPythonMinor or newer"
    }
    $candidates = @()
    if (Get-Command py -ErrorAction SilentlyContinue) {
        $candidates += , @("py", "-3.12")
        $candidates += , @("py", "-3.11")
        $candidates += , @("py", "-3.13")
        $candidates += , @("py", "-3.10")
    }
    $candidates += , @("python")
    foreach ($candidate in $candidates) {
        if (Test-Python $candidate) { return , $candidate }
    }
    Die "no Python 3.$MinPythonMinor+ found; install it from https://www.python.org (tick 'Add python.exe to PATH') or with: winget install Python.Python.3.12"
}

function Invoke-Pip([string[]]$Arguments, [string]$Failure) {
    Invoke-Native $VenvPython (@("-m", "pip", "install", "--disable-pip-version-check") + $PipExtra + $Arguments) $Failure
}

function New-Environment {
    if ((Test-Path $VenvPython) -and (Test-Python @($VenvPython))) {
        Say "using the existing environment $Venv"
        return
    }
    if (Test-Path $Venv) {
        Warn "the environment $Venv is damaged; making a new one"
        Remove-Item -Recurse -Force $Venv
    }
    $py = Find-Python
    New-Item -ItemType Directory -Force -Path $Prefix | Out-Null
    Say "creating the environment $Venv with $($py -join ' ')"
    $program = $py[0]
    $rest = @()
    if ($py.Count -gt 1) { $rest = $py[1..($py.Count - 1)] }
    Invoke-Native $program ($rest + @("-m", "venv", $Venv)) "could not create the environment $Venv"
}

# --- what to install Studio from -----------------------------------------------------------------------------
function Get-Conf([string]$Key) {
    if (-not (Test-Path $Conf)) { return "" }
    $line = Get-Content $Conf | Where-Object { $_.StartsWith("$Key=") } | Select-Object -Last 1
    if ($line) { return $line.Substring($Key.Length + 1) }
    return ""
}

function Get-InstalledVersion([string]$Module) {
    $version = Get-Output $VenvPython @("-c", "import $Module; print($Module.__version__)")
    if ($version) { return "$version".Trim() }
    return "unknown"
}

function Write-Conf {
    $lines = @("source=$script:Source", "torch=$(Get-InstalledVersion torch)", "version=$(Get-InstalledVersion studio)")
    Set-Content -Path $Conf -Value $lines -Encoding UTF8
}

function Test-LocalPath([string]$What) {
    # a path (has a slash, or is a wheel or sdist file name) rather than a pip requirement
    return ($What -eq ".") -or ($What -eq "..") -or ($What -match "[\\/]") -or ($What -match "\.(whl|zip|tar\.gz)$")
}

function Get-ScriptCheckout {
    # the Studio checkout or release archive around this script; $null when run from a downloaded string
    if (-not $PSScriptRoot) { return $null }
    $root = Split-Path -Parent $PSScriptRoot
    $project = Join-Path $root "pyproject.toml"
    if ((Test-Path $project) -and (Test-Path (Join-Path $root "studio/__init__.py")) -and
        (Select-String -Path $project -Pattern '^name = "studio"' -Quiet)) { return $root }
    return $null
}

function Resolve-Source {
    if (-not $script:Source) { $script:Source = Get-Conf "source" }
    if (-not $script:Source) { $script:Source = Get-ScriptCheckout }
    if (-not $script:Source) {
        Die ("nothing to install from: run installer\install.ps1 from a Studio checkout or release archive, or pass " +
             "-Source with a checkout folder, a Studio .whl file or a pip requirement (e.g. git+https://.../studio.git)")
    }
    if (Test-LocalPath $script:Source) {
        if (-not (Test-Path $script:Source)) { Die "-Source ${script:Source}: no such file or folder" }
        $script:Source = (Resolve-Path $script:Source).Path
    }
}

function Get-TorchPins {
    # "torch==X" lines for the installed torch packages: a constraints file keeps them while Studio installs
    $pins = @()
    foreach ($name in $TorchPackages) {
        $found = Get-Output $VenvPython @("-c", "from importlib.metadata import version; print(version('$name'))")
        if ($found) { $pins += "$name==$("$found".Trim())" }
    }
    return $pins
}

function Install-From([string]$What) {
    $pins = @(Get-TorchPins)
    $constraints = Join-Path ([System.IO.Path]::GetTempPath()) ("studio-constraints-" + [guid]::NewGuid() + ".txt")
    Set-Content -Path $constraints -Value $pins -Encoding ASCII
    $kept = ""
    if ($pins.Count -gt 0) { $kept = " (keeping $($pins -join ' '))" }
    Say "installing Studio from $What$kept"
    try { Invoke-Pip @("--upgrade", "--constraint", $constraints, $What) "pip could not install Studio from $What$kept; if it needs another torch, run with -Update -ReinstallTorch" }
    finally { Remove-Item -Force $constraints -ErrorAction SilentlyContinue }
    if ((Test-LocalPath $What) -and (Test-Path $What -PathType Leaf)) {
        # a local wheel of the same version counts as installed already: replace the code anyway
        Invoke-Pip @("--force-reinstall", "--no-deps", $What) "pip could not install Studio from $What"
    }
}

function Install-Studio {
    if ((Test-LocalPath $script:Source) -and (Test-Path $script:Source -PathType Container)) {
        if (-not (Test-Path (Join-Path $script:Source "pyproject.toml"))) { Die "$script:Source is a folder but not a Studio checkout" }
        $work = Join-Path ([System.IO.Path]::GetTempPath()) ("studio-install-" + [guid]::NewGuid())
        New-Item -ItemType Directory -Path $work | Out-Null
        Say "building Studio from $script:Source"
        Invoke-Native $VenvPython @("-m", "pip", "wheel", "--disable-pip-version-check", "--no-deps", "--wheel-dir", $work, $script:Source) "could not build Studio from $script:Source"
        $wheel = (Get-ChildItem -Path $work -Filter "studio-*.whl" | Select-Object -First 1).FullName
        Install-From $wheel
        Remove-Item -Recurse -Force $work
    }
    else {
        Install-From $script:Source
    }
}

function Install-Torch {
    $plan = Select-Torch
    Say $plan.Why
    if ($script:ReinstallTorch) {
        # another build of the same version would count as installed: remove it first
        $null = Get-Output $VenvPython (@("-m", "pip", "uninstall", "--disable-pip-version-check", "-y") + $TorchPackages)
    }
    Say "installing $($plan.Args -join ' ')"
    Invoke-Pip $plan.Args "pip could not install torch ($($plan.Args -join ' ')); check the network, or pass -Torch SPEC / -Cpu"
}

# --- launcher ------------------------------------------------------------------------------------------------
function Add-ToManifest([string]$Path) { Add-Content -Path $Manifest -Value $Path -Encoding UTF8 }

function New-Icon([string]$Ico) {
    # Best effort: render the packaged studio.svg with Qt and save it as .ico with Pillow.
    $code = @'
import os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.pop("STUDIO_RESOURCES", None)
from PIL import Image
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer
from studio.core.resources import resources_dir
app = QGuiApplication([])
image = QImage(256, 256, QImage.Format_ARGB32)
image.fill(Qt.transparent)
painter = QPainter(image)
QSvgRenderer(str(resources_dir() / "icons" / "studio.svg")).render(painter)
painter.end()
png = sys.argv[1] + ".png"
if not image.save(png):
    sys.exit(1)
Image.open(png).save(sys.argv[1], sizes=[(16, 16), (32, 32), (48, 48), (64, 64), (128, 128), (256, 256)])
os.remove(png)
'@
    $script = Join-Path $Prefix "make_icon.py"
    Set-Content -Path $script -Value $code -Encoding UTF8
    $null = Get-Output $VenvPython @($script, $Ico)
    $ok = Test-Path $Ico
    Remove-Item -Force $script -ErrorAction SilentlyContinue
    return $ok
}

function Remove-Launchers {
    if (-not (Test-Path $Manifest)) { return }
    foreach ($path in Get-Content $Manifest) {
        if ($path -and (Test-Path $path)) { Remove-Item -Force $path }
    }
    Remove-Item -Force $Manifest
}

function New-Launchers {
    if ($NoLauncher) {
        Say "no launcher, as asked (-NoLauncher); run $StudioExe"
        return
    }
    Remove-Launchers
    $ico = Join-Path $Prefix "studio.ico"
    $hasIcon = New-Icon $ico
    if ($hasIcon) { Add-ToManifest $ico } else { Warn "could not make the shortcut icon; the shortcut works without it" }
    $link = Join-Path $StartMenu "Studio.lnk"
    $shell = New-Object -ComObject WScript.Shell
    $shortcut = $shell.CreateShortcut($link)
    $shortcut.TargetPath = $VenvPythonW                       # pythonw: no console window behind the app
    $shortcut.Arguments = "-m studio.cli gui"
    $shortcut.WorkingDirectory = [Environment]::GetFolderPath("MyPictures")
    $shortcut.Description = "Studio: edit pictures with diffusion models"
    if ($hasIcon) { $shortcut.IconLocation = "$ico,0" }
    $shortcut.Save()
    Add-ToManifest $link
    Say "Start-menu shortcut: $link"
}

# --- the actions ---------------------------------------------------------------------------------------------
function Test-Install {
    $version = Get-Output $StudioExe @("--version")
    if (-not $version) { Die "the installed studio does not run; try: $StudioExe --version" }
    Say "$version is installed in $Prefix"
    if ($null -eq (Get-Output $VenvPython @("-m", "studio.doctor"))) { Say "Studio reports a problem: run '$StudioExe doctor' to see it and how to fix it" }
}

function Invoke-Install {
    Resolve-Source
    New-Environment
    Install-Torch
    Install-Studio
    New-Launchers
    Write-Conf
    Test-Install
    Say "done. Start Studio from the Start menu, or run: $StudioExe"
}

function Invoke-Update {
    if (-not (Test-Path $VenvPython)) { Die "Studio is not installed in $Prefix (run without -Update to install it)" }
    Resolve-Source
    if ($ReinstallTorch -or $Torch -or $Cpu) {
        $script:ReinstallTorch = $true
        Install-Torch
    }
    else { Say "keeping torch $(Get-InstalledVersion torch) (use -ReinstallTorch to detect the GPU again)" }
    Install-Studio
    New-Launchers
    Write-Conf
    Test-Install
}

function Invoke-Uninstall {
    if (-not (Test-Path $Venv) -and -not (Test-Path $Manifest)) {
        Say "Studio is not installed in $Prefix; nothing to remove"
        return
    }
    Remove-Launchers
    if (Test-Path $Venv) { Remove-Item -Recurse -Force $Venv }
    if (Test-Path $Conf) { Remove-Item -Force $Conf }
    if (-not (Get-ChildItem -Force $Prefix)) { Remove-Item -Force $Prefix }
    else { Say "kept $Prefix (it holds other files)" }
    Say "Studio is removed. Your settings and models were not touched."
}

if ($Uninstall) { Invoke-Uninstall }
elseif ($ShowTorch) {
    $plan = Select-Torch
    Write-Output $plan.Why
    Write-Output "pip install $($plan.Args -join ' ')"
}
elseif ($Update) { Invoke-Update }
else { Invoke-Install }
