"""The layers hold: core imports neither Qt nor torch, engine and plugins import no Qt (pyproject's contracts)."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts_are_kept():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which("lint-imports")
    assert lint, "import-linter is part of the test extras"
    result = subprocess.run([lint, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def test_core_imports_without_torch_or_qt():
    code = (
        "import sys, studio.core.recipe, studio.core.masks, studio.core.metadata, studio.core.checkpoints, "
        "studio.core.regions, studio.core.images; "
        "bad = [m for m in ('torch', 'PySide6', 'diffusers') if m in sys.modules]; print(bad); sys.exit(bool(bad))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
