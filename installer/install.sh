#!/usr/bin/env bash
# Studio installer for Linux and macOS: an isolated Python environment, the torch build that fits this
# computer's GPU, Studio itself, and a launcher (a .desktop entry on Linux, Studio.app on macOS).
#
#   install.sh [--prefix DIR] [--cpu | --torch SPEC] [--source PATH_OR_WHEEL_OR_REQUIREMENT] [--no-launcher]
#   install.sh --update [--reinstall-torch]        upgrade Studio (torch is kept unless asked)
#   install.sh --uninstall                         remove Studio (settings and models are kept)
#   install.sh --show-torch                        print the torch build it would pick, and exit
#
# Runs with the bash macOS ships (3.2): no associative arrays, empty arrays expanded with ${a[@]+"${a[@]}"}.
# See installer/README.md for every option.
set -euo pipefail

# --- what is installed from where ---------------------------------------------------------------------------
# No published package yet (the name "studio" on PyPI is someone else's project): by default Studio is built
# from the checkout or release archive this script sits in; --source names anything else.
TORCH_INDEX_BASE="${STUDIO_TORCH_INDEX_BASE:-https://download.pytorch.org/whl}"
TORCH_PACKAGES="torch torchvision"    # installed together, from the same index, so that they match
CUDA_BUILDS="130 128 126 124 121 118"  # PyTorch's CUDA indexes (cuXYZ), newest first; the newest the driver runs wins
ROCM_BUILD="rocm6.4"                   # PyTorch's ROCm index; the wheels carry their own ROCm libraries
MIN_PYTHON_MINOR=10                    # Python 3.10+
APP_ID="studio"                        # .desktop file name, icon name, command name

# --- options -----------------------------------------------------------------------------------------------
ACTION="install"
PREFIX=""
SOURCE=""
TORCH_SPEC="${STUDIO_TORCH_SPEC:-}"    # e.g. "torch==2.6.0 torchvision==0.21.0": exactly these, with pip's own configuration
TORCH_INDEX="${STUDIO_TORCH_INDEX:-}"  # an index URL for torch (overrides the detected one)
FORCE_CPU=0
REINSTALL_TORCH=0
LAUNCHER=1
PYTHON="${STUDIO_PYTHON:-}"
BIN_DIR="${STUDIO_BIN_DIR:-$HOME/.local/bin}"
# extra arguments for every pip install, e.g. STUDIO_PIP_ARGS="--no-compile" (split on spaces)
read -r -a PIP_EXTRA <<<"${STUDIO_PIP_ARGS:-}"

say() { printf 'studio-installer: %s\n' "$*"; }
warn() { printf 'studio-installer: warning: %s\n' "$*" >&2; }
die() {
    printf 'studio-installer: error: %s\n' "$*" >&2
    exit 1
}

usage() {
    cat <<'EOF'
Usage: install.sh [options]

Installs Studio into its own Python environment, with the torch build for this computer's GPU,
and adds a launcher.

  --prefix DIR        where to install (default: ~/.local/share/studio on Linux,
                      ~/Library/Application Support/Studio on macOS); the environment is DIR/venv
  --source WHAT       what to install: a checkout folder, a .whl file or a pip requirement
                      (default: the checkout or release archive this script is in)
  --cpu               install the CPU build of torch, whatever GPU there is
  --torch SPEC        install these requirements instead of choosing a build, e.g.
                      "torch==2.6.0 torchvision==0.21.0" (give both: they must match); pip's own
                      index configuration is used unless --torch-index is given (also: STUDIO_TORCH_SPEC)
  --torch-index URL   the package index to get torch from (also: STUDIO_TORCH_INDEX)
  --python PATH       the Python (3.10+) to create the environment with (also: STUDIO_PYTHON)
  --bin-dir DIR       where to link the `studio` command (default: ~/.local/bin)
  --no-launcher       no menu entry / app and no command link
  --update            upgrade Studio in an existing installation; torch is kept
  --reinstall-torch   detect the GPU again and reinstall torch (with --update, --cpu and --torch
                      imply it; a plain re-run keeps the torch that is there)
  --uninstall         remove the environment and the launcher (settings and models are kept)
  --show-torch        print which torch build would be installed, and exit
  -h, --help          this help

Environment: STUDIO_PIP_ARGS adds arguments to every pip install (e.g. "--no-compile").
EOF
}

while [ $# -gt 0 ]; do
    option="$1"
    value=""
    case "$option" in
        --*=*)
            value="${option#*=}"
            option="${option%%=*}"
            ;;
    esac
    case "$option" in
        --prefix | --source | --torch | --torch-index | --python | --bin-dir)
            if [ -z "$value" ]; then
                [ $# -ge 2 ] || die "$option needs a value"
                value="$2"
                shift
            fi
            case "$option" in
                --prefix) PREFIX="$value" ;;
                --source) SOURCE="$value" ;;
                --torch) TORCH_SPEC="$value" ;;
                --torch-index) TORCH_INDEX="$value" ;;
                --python) PYTHON="$value" ;;
                --bin-dir) BIN_DIR="$value" ;;
            esac
            ;;
        --cpu) FORCE_CPU=1 ;;
        --reinstall-torch) REINSTALL_TORCH=1 ;;
        --no-launcher) LAUNCHER=0 ;;
        --update) ACTION="update" ;;
        --uninstall) ACTION="uninstall" ;;
        --show-torch) ACTION="show-torch" ;;
        -h | --help)
            usage
            exit 0
            ;;
        *) die "unknown option $option (see --help)" ;;
    esac
    shift
done

case "$(uname -s)" in
    Linux) OS="linux" ;;
    Darwin) OS="macos" ;;
    *) die "this installer is for Linux and macOS; on Windows use installer/install.ps1" ;;
esac

absolute() { # an absolute path for $1, which need not exist yet (its parent folder must, for files)
    case "$1" in
        /*) printf '%s\n' "$1" ;;
        *) printf '%s/%s\n' "$(pwd -P)" "${1#./}" ;;
    esac
}

if [ -z "$PREFIX" ]; then
    if [ "$OS" = "linux" ]; then
        PREFIX="${XDG_DATA_HOME:-$HOME/.local/share}/studio"
    else
        PREFIX="$HOME/Library/Application Support/Studio"
    fi
fi
PREFIX="$(absolute "$PREFIX")"
VENV="$PREFIX/venv"
VENV_PYTHON="$VENV/bin/python"
STUDIO_BIN="$VENV/bin/studio"
CONF="$PREFIX/install.conf"     # key=value lines: what was installed from where
MANIFEST="$PREFIX/launcher-files" # one path a line: what the launcher step wrote outside the venv
DATA_HOME="${XDG_DATA_HOME:-$HOME/.local/share}"
APP_DIR="${STUDIO_APP_DIR:-$HOME/Applications}"

# --- torch: which build for this computer --------------------------------------------------------------------
# Sets TORCH_ARGS (the pip arguments: requirements, then maybe --index-url URL) and TORCH_WHY (one line).
TORCH_ARGS=()
TORCH_WHY=""

cuda_build_for() { # $1: the driver's CUDA version "12.4", $2: the lowest compute capability "8.6" (or empty)
    local major minor have build ceiling=999
    major="${1%%.*}"
    minor="${1#*.}"
    minor="${minor%%.*}"
    have=$((major * 10 + minor))
    case "${2:-}" in # newer CUDA builds dropped old GPUs: before Volta (7.0) stop at 12.6, before Turing (7.5) at 12.8
        [1-6].*) ceiling=126 ;;
        7.0 | 7.2) ceiling=128 ;;
    esac
    for build in $CUDA_BUILDS; do
        if [ "$build" -le "$have" ] && [ "$build" -le "$ceiling" ]; then
            printf 'cu%s\n' "$build"
            return 0
        fi
    done
    return 1
}

nvidia_cuda_version() { # the highest CUDA version the installed driver runs, from nvidia-smi's banner
    command -v nvidia-smi >/dev/null 2>&1 || return 1
    nvidia-smi 2>/dev/null | sed -n -E 's/.*CUDA Version: *([0-9]+\.[0-9]+).*/\1/p' | head -n 1 | grep . || return 1
}

nvidia_compute_capability() { # the lowest compute capability among the GPUs, e.g. "8.6" (empty if unknown)
    nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | grep -E '^ *[0-9]+\.[0-9]+ *$' |
        tr -d ' ' | sort -n | head -n 1 || true
}

amd_gpu_present() {
    command -v rocminfo >/dev/null 2>&1 || command -v rocm-smi >/dev/null 2>&1 || [ -e /dev/kfd ]
}

torch_from() { # $1: an index URL, or empty for pip's own configuration (PyPI)
    read -r -a TORCH_ARGS <<<"$TORCH_PACKAGES"
    if [ -n "$1" ]; then
        TORCH_ARGS+=(--index-url "$1")
    fi
}

cpu_torch() {
    if [ "$OS" = "linux" ]; then
        torch_from "$TORCH_INDEX_BASE/cpu"
    else
        torch_from "" # macOS wheels on PyPI are the CPU + MPS build
    fi
}

choose_torch() {
    local version capability build
    if [ -n "$TORCH_SPEC" ]; then
        read -r -a TORCH_ARGS <<<"$TORCH_SPEC"
        TORCH_WHY="torch as asked: $TORCH_SPEC"
    elif [ "$FORCE_CPU" = 1 ]; then
        cpu_torch
        TORCH_WHY="the CPU build of torch, as asked (--cpu)"
    elif [ "$OS" = "macos" ]; then
        if [ "$(uname -m)" = "arm64" ]; then
            torch_from ""
            TORCH_WHY="Apple Silicon: torch from PyPI, which runs on the GPU through MPS"
        elif [ "$(sysctl -n hw.optional.arm64 2>/dev/null || echo 0)" = "1" ]; then
            die "this shell runs under Rosetta (x86_64) on an Apple Silicon Mac; open a native Terminal (arm64) and run the installer again"
        else
            die "current PyTorch has no builds for Intel Macs; Studio needs torch 2.4 or newer (pass --torch SPEC to try another)"
        fi
    elif version="$(nvidia_cuda_version)"; then
        capability="$(nvidia_compute_capability)"
        if build="$(cuda_build_for "$version" "$capability")"; then
            torch_from "$TORCH_INDEX_BASE/$build"
            TORCH_WHY="NVIDIA GPU, driver for CUDA $version${capability:+, compute capability $capability}: torch for CUDA (${build})"
        else
            cpu_torch
            TORCH_WHY="NVIDIA GPU, but its driver (CUDA $version) is too old for current torch: using the CPU; update the driver and run with --update --reinstall-torch"
        fi
    elif [ "$OS" = "linux" ] && amd_gpu_present; then
        torch_from "$TORCH_INDEX_BASE/$ROCM_BUILD"
        TORCH_WHY="AMD GPU (ROCm): torch for ROCm ($ROCM_BUILD)"
    else
        cpu_torch
        TORCH_WHY="no NVIDIA or AMD GPU found: the CPU build of torch (slow, but works)"
    fi
    if [ -n "$TORCH_INDEX" ]; then
        if [ -n "$TORCH_SPEC" ]; then
            read -r -a TORCH_ARGS <<<"$TORCH_SPEC"
        else
            read -r -a TORCH_ARGS <<<"$TORCH_PACKAGES"
        fi
        TORCH_ARGS+=(--index-url "$TORCH_INDEX")
    fi
}

# --- Python and pip ------------------------------------------------------------------------------------------
python_ok() { # $1: a command; true when it is Python 3.10+
    command -v "$1" >/dev/null 2>&1 &&
        "$1" -c "import sys; sys.exit(sys.version_info < (3, $MIN_PYTHON_MINOR))" >/dev/null 2>&1
}

find_python() { # prints the Python to build the environment with
    local candidate
    if [ -n "$PYTHON" ]; then
        python_ok "$PYTHON" || return 1
        command -v "$PYTHON"
        return 0
    fi
    for candidate in python3.12 python3.11 python3.13 python3.10 python3 python; do
        if python_ok "$candidate"; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

pip_install() {
    "$VENV_PYTHON" -m pip install --disable-pip-version-check ${PIP_EXTRA[@]+"${PIP_EXTRA[@]}"} "$@"
}

create_venv() {
    local python
    if [ -x "$VENV_PYTHON" ] && "$VENV_PYTHON" -c "import pip" >/dev/null 2>&1; then
        say "using the existing environment $VENV"
        return 0
    fi
    if [ -e "$VENV" ]; then
        warn "the environment $VENV is damaged (its Python does not run); making a new one"
        rm -rf "$VENV"
    fi
    if ! python="$(find_python)"; then
        [ -z "$PYTHON" ] || die "$PYTHON is not a Python 3.$MIN_PYTHON_MINOR or newer"
        if [ "$OS" = "linux" ]; then
            die "no Python 3.$MIN_PYTHON_MINOR+ found; install it (Debian/Ubuntu: sudo apt install python3 python3-venv; Fedora: sudo dnf install python3) and run again"
        fi
        die "no Python 3.$MIN_PYTHON_MINOR+ found; install it from https://www.python.org or with Homebrew (brew install python@3.12) and run again"
    fi
    say "creating the environment $VENV with $python ($("$python" -c 'import sys; print(sys.version.split()[0])'))"
    mkdir -p "$PREFIX"
    if ! "$python" -m venv "$VENV"; then
        rm -rf "$VENV"
        die "$python cannot create environments; on Debian/Ubuntu install python3-venv (sudo apt install python3-venv) and run again"
    fi
}

# --- what to install Studio from -----------------------------------------------------------------------------
conf_get() { # $1: key → its value in install.conf (empty if absent)
    [ -f "$CONF" ] || return 0
    sed -n "s/^$1=//p" "$CONF" | tail -n 1
}

write_conf() {
    {
        printf 'source=%s\n' "$SOURCE"
        printf 'torch=%s\n' "$(conf_torch_line)"
        printf 'version=%s\n' "$("$VENV_PYTHON" -c 'import studio; print(studio.__version__)' 2>/dev/null || echo unknown)"
    } >"$CONF"
}

conf_torch_line() {
    "$VENV_PYTHON" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo unknown
}

is_local_path() { # a path (has a slash, or is a wheel or sdist file name) rather than a pip requirement
    case "$1" in
        . | .. | */* | *.whl | *.tar.gz | *.zip) return 0 ;;
        *) return 1 ;;
    esac
}

script_checkout() { # the Studio checkout or release archive around this script, if it runs from one
    local here
    case "${BASH_SOURCE[0]:-}" in
        */*) here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." 2>/dev/null && pwd -P)" || return 1 ;;
        *) return 1 ;; # piped into bash: no file, no checkout
    esac
    [ -f "$here/pyproject.toml" ] && [ -f "$here/studio/__init__.py" ] && grep -q '^name = "studio"' "$here/pyproject.toml" ||
        return 1
    printf '%s\n' "$here"
}

resolve_source() { # a local path becomes absolute (so --update finds it again); requirements stay as they are
    if [ -z "$SOURCE" ]; then
        SOURCE="$(conf_get source)"
    fi
    if [ -z "$SOURCE" ]; then
        SOURCE="$(script_checkout)" ||
            die "nothing to install from: run installer/install.sh from a Studio checkout or release archive, or pass
    --source with a checkout folder, a Studio .whl file or a pip requirement (e.g. git+https://…/studio.git)"
    fi
    if is_local_path "$SOURCE"; then
        [ -e "$SOURCE" ] || die "--source $SOURCE: no such file or folder"
        if [ -d "$SOURCE" ]; then
            SOURCE="$(cd "$SOURCE" && pwd -P)"
        else
            SOURCE="$(cd "$(dirname "$SOURCE")" && pwd -P)/$(basename "$SOURCE")"
        fi
    fi
}

install_studio() {
    local work wheel
    if is_local_path "$SOURCE" && [ -d "$SOURCE" ]; then
        [ -f "$SOURCE/pyproject.toml" ] || die "$SOURCE is a folder but not a Studio checkout (no pyproject.toml)"
        work="$(mktemp -d "${TMPDIR:-/tmp}/studio-install.XXXXXX")"
        say "building Studio from $SOURCE"
        "$VENV_PYTHON" -m pip wheel --disable-pip-version-check --no-deps --wheel-dir "$work" "$SOURCE" >/dev/null ||
            die "could not build Studio from $SOURCE"
        wheel="$(ls "$work"/studio-*.whl)"
        install_from "$wheel"
        rm -rf "$work"
    else
        install_from "$SOURCE"
    fi
}

keep_torch_constraints() { # $1: a file to write; pins the installed torch packages so Studio's install keeps them
    "$VENV_PYTHON" - "$TORCH_PACKAGES" >"$1" <<'EOF'
import sys
from importlib.metadata import PackageNotFoundError, version
for name in sys.argv[1].split():
    try:
        print(f"{name}=={version(name)}")
    except PackageNotFoundError:
        pass
EOF
}

install_from() { # $1: a wheel file or a requirement
    local constraints kept
    constraints="$(mktemp "${TMPDIR:-/tmp}/studio-constraints.XXXXXX")"
    keep_torch_constraints "$constraints"
    kept="$(tr '\n' ' ' <"$constraints" | sed 's/ *$//')"
    say "installing Studio from $1${kept:+ (keeping $kept)}"
    if ! pip_install --upgrade --constraint "$constraints" "$1"; then
        rm -f "$constraints"
        die "pip could not install Studio from $1${kept:+ with $kept}; if it needs another torch, run with --update --reinstall-torch"
    fi
    rm -f "$constraints"
    if is_local_path "$1" && [ -f "$1" ]; then # a local wheel of the same version counts as installed already: replace the code anyway
        pip_install --force-reinstall --no-deps "$1" >/dev/null || die "pip could not install Studio from $1"
    fi
}

install_torch() {
    choose_torch
    say "$TORCH_WHY"
    if [ "$REINSTALL_TORCH" = 1 ]; then # another build of the same version would count as installed: remove first
        # shellcheck disable=SC2086 # TORCH_PACKAGES is a list of names
        "$VENV_PYTHON" -m pip uninstall --disable-pip-version-check -y $TORCH_PACKAGES >/dev/null 2>&1 || true
    fi
    say "installing ${TORCH_ARGS[*]}"
    pip_install "${TORCH_ARGS[@]}" || die "pip could not install torch (${TORCH_ARGS[*]}); check the network, or pass --torch SPEC / --cpu"
}

# --- launchers -----------------------------------------------------------------------------------------------
remember() { printf '%s\n' "$1" >>"$MANIFEST"; }

packaged_icon() { # the studio.svg shipped with the installed package
    env -u STUDIO_RESOURCES "$VENV_PYTHON" -c \
        'from studio.core.resources import resources_dir; print(resources_dir() / "icons" / "studio.svg")'
}

desktop_exec_arg() { # $1: a path → one quoted Exec argument (Desktop Entry spec: quoting, then string escapes)
    local s="$1"
    s="${s//\\/\\\\\\\\}"
    s="${s//\"/\\\\\"}"
    s="${s//\`/\\\\\`}"
    s="${s//\$/\\\\\$}"
    s="${s//%/%%}"
    printf '"%s"' "$s"
}

gui_accepts_files() { # whether `studio gui` takes pictures to open (then the menu entry passes them on)
    "$STUDIO_BIN" gui --help 2>/dev/null | grep -q '\[pictures'
}

link_command() {
    local link="$BIN_DIR/$APP_ID"
    mkdir -p "$BIN_DIR"
    if [ -e "$link" ] || [ -L "$link" ]; then
        case "$(readlink "$link" 2>/dev/null || true)" in
            */venv/bin/studio) ;; # a link to a Studio environment (this one or an earlier one): replace it
            *)
                warn "$link exists and is not Studio's; not replacing it (run $STUDIO_BIN directly)"
                return 0
                ;;
        esac
    fi
    ln -sfn "$STUDIO_BIN" "$link"
    remember "$link"
    case ":$PATH:" in
        *":$BIN_DIR:"*) ;;
        *) say "add $BIN_DIR to your PATH to run \`studio\` from a terminal" ;;
    esac
}

linux_launcher() {
    local apps="$DATA_HOME/applications" icons="$DATA_HOME/icons/hicolor/scalable/apps"
    local desktop="$apps/$APP_ID.desktop" icon="$icons/$APP_ID.svg" exec_line source_icon
    source_icon="$(packaged_icon)" || die "the installed Studio does not import; see the messages above"
    [ -f "$source_icon" ] || die "the installed Studio has no icon ($source_icon): its resources are missing"
    mkdir -p "$apps" "$icons"
    cp "$source_icon" "$icon"
    remember "$icon"
    exec_line="$(desktop_exec_arg "$STUDIO_BIN") gui"
    if gui_accepts_files; then
        exec_line="$exec_line %F"
    fi
    cat >"$desktop.tmp" <<EOF
[Desktop Entry]
Type=Application
Version=1.4
Name=Studio
GenericName=Image Editor
Comment=Edit pictures with diffusion models: inpainting, SDEdit, ControlNet and upscaling
Exec=$exec_line
TryExec=$STUDIO_BIN
Icon=$icon
Terminal=false
Categories=Graphics;2DGraphics;RasterGraphics;
MimeType=image/png;image/jpeg;image/webp;
Keywords=inpainting;stable diffusion;diffusion;AI;picture;
StartupNotify=true
StartupWMClass=Studio
EOF
    mv "$desktop.tmp" "$desktop"
    remember "$desktop"
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$apps" 2>/dev/null || true
    fi
    say "menu entry: $desktop"
}

macos_icon() { # $1: the .icns to write; best effort (renders the SVG with Qt, converts with sips)
    local png="$1.png"
    "$VENV_PYTHON" - "$(packaged_icon)" "$png" <<'EOF' >/dev/null 2>&1 || return 1
import os, sys
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication, QImage, QPainter
from PySide6.QtSvg import QSvgRenderer
app = QGuiApplication([])
image = QImage(1024, 1024, QImage.Format_ARGB32)
image.fill(Qt.transparent)
painter = QPainter(image)
QSvgRenderer(sys.argv[1]).render(painter)
painter.end()
sys.exit(0 if image.save(sys.argv[2]) else 1)
EOF
    sips -s format icns "$png" --out "$1" >/dev/null 2>&1 || return 1
    rm -f "$png"
}

macos_launcher() {
    local app="$APP_DIR/Studio.app" version
    version="$("$VENV_PYTHON" -c 'import studio; print(studio.__version__)')"
    rm -rf "$app"
    mkdir -p "$app/Contents/MacOS" "$app/Contents/Resources"
    cat >"$app/Contents/MacOS/Studio" <<EOF
#!/bin/bash
exec "$STUDIO_BIN" gui
EOF
    chmod +x "$app/Contents/MacOS/Studio"
    cat >"$app/Contents/Info.plist" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
    <key>CFBundleName</key><string>Studio</string>
    <key>CFBundleDisplayName</key><string>Studio</string>
    <key>CFBundleIdentifier</key><string>org.studio.Studio</string>
    <key>CFBundleExecutable</key><string>Studio</string>
    <key>CFBundleIconFile</key><string>studio</string>
    <key>CFBundlePackageType</key><string>APPL</string>
    <key>CFBundleShortVersionString</key><string>$version</string>
    <key>CFBundleVersion</key><string>$version</string>
    <key>LSMinimumSystemVersion</key><string>12.3</string>
    <key>NSHighResolutionCapable</key><true/>
</dict>
</plist>
EOF
    macos_icon "$app/Contents/Resources/studio.icns" || warn "could not make the app icon; Studio.app works without it"
    remember "$app"
    touch "$app" # Finder and Launch Services notice the new bundle
    say "app: $app"
}

make_launchers() {
    if [ "$LAUNCHER" = 0 ]; then
        say "no launcher, as asked (--no-launcher); run $STUDIO_BIN"
        return 0
    fi
    remove_launchers # the previous ones (paths may have changed), then write them again
    if [ "$OS" = "linux" ]; then
        linux_launcher
    else
        macos_launcher
    fi
    link_command
}

remove_launchers() {
    local path
    [ -f "$MANIFEST" ] || return 0
    while IFS= read -r path; do
        [ -n "$path" ] || continue
        case "$path" in
            *.app) rm -rf "$path" ;;
            *) if [ -L "$path" ] || [ -f "$path" ]; then rm -f "$path"; fi ;;
        esac
    done <"$MANIFEST"
    rm -f "$MANIFEST"
    if [ "$OS" = "linux" ] && command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$DATA_HOME/applications" 2>/dev/null || true
    fi
}

# --- the actions ---------------------------------------------------------------------------------------------
check_install() {
    local version
    version="$("$STUDIO_BIN" --version)" || die "the installed studio does not run; see the messages above"
    say "$version is installed in $PREFIX"
    # the report behind `studio doctor`; exit status 1 when something essential is missing
    "$VENV_PYTHON" -m studio.doctor >/dev/null 2>&1 ||
        say "Studio reports a problem: run \`$STUDIO_BIN doctor\` to see it and how to fix it"
}

do_install() {
    resolve_source
    create_venv
    install_torch
    install_studio
    make_launchers
    write_conf
    check_install
    say "done. Start Studio from your applications, or run: $STUDIO_BIN"
}

do_update() {
    [ -x "$VENV_PYTHON" ] || die "Studio is not installed in $PREFIX (run without --update to install it)"
    resolve_source
    if [ "$REINSTALL_TORCH" = 1 ] || [ -n "$TORCH_SPEC" ] || [ "$FORCE_CPU" = 1 ]; then
        REINSTALL_TORCH=1
        install_torch
    else
        say "keeping torch $(conf_torch_line) (use --reinstall-torch to detect the GPU again)"
    fi
    install_studio
    make_launchers
    write_conf
    check_install
}

do_uninstall() {
    if ! [ -d "$VENV" ] && ! [ -f "$MANIFEST" ]; then
        say "Studio is not installed in $PREFIX; nothing to remove"
        return 0
    fi
    remove_launchers
    rm -rf "$VENV"
    rm -f "$CONF"
    rmdir "$PREFIX" 2>/dev/null || say "kept $PREFIX (it holds other files)"
    say "Studio is removed. Your settings and models were not touched."
}

do_show_torch() {
    choose_torch
    printf '%s\n' "$TORCH_WHY"
    printf 'pip install %s\n' "${TORCH_ARGS[*]}"
}

case "$ACTION" in
    install) do_install ;;
    update) do_update ;;
    uninstall) do_uninstall ;;
    show-torch) do_show_torch ;;
esac
