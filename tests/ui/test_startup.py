"""`studio` opens the window before torch is imported: the engine loads in the worker, later."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

LAUNCH = r"""
import sys
from PySide6.QtCore import QTimer
from studio.ui import main_window

original = main_window.MainWindow.showEvent
seen = []

def show_event(self, event):
    original(self, event)
    if not seen:
        seen.append(True)
        loaded = [name for name in ("torch", "diffusers", "transformers", "studio.engine.jobs") if name in sys.modules]
        print("LOADED_AT_SHOW", loaded, flush=True)
        QTimer.singleShot(100, self.close)

main_window.MainWindow.showEvent = show_event
from studio.cli import main
sys.exit(main([]))
"""


def test_the_window_shows_before_torch_is_imported(tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"),
               XDG_DATA_HOME=str(tmp_path / "data"))
    result = subprocess.run([sys.executable, "-c", LAUNCH], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "LOADED_AT_SHOW []" in result.stdout, result.stdout + result.stderr
    assert (tmp_path / "config" / "studio" / "settings.json").exists(), "settings are saved on close"
