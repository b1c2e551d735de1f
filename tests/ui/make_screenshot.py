"""Make docs/screenshot.png: the real window, a picture, a painted mask and results from a real generate.

    xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python -m tests.ui.make_screenshot docs/screenshot.png

The model is the test suite's tiny SD 1.x inpainting checkpoint (random weights, 64×64 native), run by the
real engine in the real worker: its results are noise-like, but every step of the pipeline is the real one.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

WIDTH, HEIGHT = 960, 640


def landscape(path: Path) -> Path:
    """A synthetic evening landscape: sky, sun, two mountain ranges, a lake with their reflection."""
    y = np.linspace(0, 1, HEIGHT)[:, None, None]
    sky = (1 - y) * np.array([70, 110, 190]) + y * np.array([250, 180, 120])
    pixels = np.broadcast_to(sky, (HEIGHT, WIDTH, 3)).astype(np.float64).copy()
    image = Image.fromarray(pixels.clip(0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    draw.ellipse((610, 150, 700, 240), fill=(255, 226, 160))
    rng = np.random.default_rng(3)
    for base, color, roughness in ((330, (92, 86, 120), 70), (390, (52, 70, 78), 45)):
        xs = np.arange(0, WIDTH + 40, 40)
        ys = base - np.abs(np.cumsum(rng.normal(0, roughness / 2, xs.size))) % roughness
        draw.polygon([(0, HEIGHT)] + list(zip(xs.tolist(), ys.tolist())) + [(WIDTH, HEIGHT)], fill=color)
    horizon = 430
    top = np.asarray(image)[:horizon]
    reflection = top[::-1][: HEIGHT - horizon].astype(np.float64) * 0.6 + np.array([20, 40, 70]) * 0.4
    pixels = np.asarray(image).copy()
    pixels[horizon:] = reflection.clip(0, 255).astype(np.uint8)
    image = Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(1.2))
    image.save(path)
    return path


def main(out: str = "docs/screenshot.png") -> int:
    work = Path(tempfile.mkdtemp(prefix="studio-screenshot-"))
    os.environ["XDG_CONFIG_HOME"] = str(work / "config")
    os.environ["XDG_DATA_HOME"] = str(work / "data")
    os.environ.setdefault("STUDIO_DEVICE", "cpu")
    os.environ.setdefault("STUDIO_DTYPE", "float32")

    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtGui import QGuiApplication

    from studio.core.brush import Brush
    from studio.ui.app import create_application
    from studio.ui.main_window import MainWindow
    from tests.fixtures.tiny_models import save_single_file

    app = create_application([])
    model = save_single_file("sd1_inpaint", work / "models" / "dreamshaper-tiny-inpainting.safetensors")
    window = MainWindow(preload_models=False)
    window.resize(1440, 900)
    window.show()
    window.models.add_folder(model.parent)
    window.open_picture(landscape(work / "lake.png"))
    window.message_bar.dismiss()

    for path in (((250, 470), (300, 455), (360, 452), (420, 462), (440, 500), (380, 515), (300, 512), (255, 495)),
                 ((290, 480), (400, 485))):
        stroke = window.document.begin_stroke(Brush(size=70, hardness=0.7))
        for x, y in path:
            stroke.move_to(x, y)
        window.canvas.refresh(window.document.end_stroke(stroke))
    panel = window.recipe_panel
    panel.prompt.setPlainText("a small wooden cabin on the lake shore, warm light in the windows, evening")
    panel.negative_prompt.setPlainText("blurry, low quality")
    panel.steps.setValue(12)
    panel.seed.seed, panel.seed.locked = 1234, True
    panel.variations.setValue(4)
    panel.custom_size.setChecked(True)
    panel.width_field.setValue(64)
    panel.height_field.setValue(64)
    panel.inpaint_area.setCurrentIndex(panel.inpaint_area.findData("masked"))

    loop = QEventLoop()
    window.job_ended.connect(lambda outcome: loop.quit())
    QTimer.singleShot(240_000, loop.quit)
    window.generate()
    loop.exec()
    if window.results.list.count() == 0:
        print(f"no results: {window.message_bar.text}", file=sys.stderr)
        return 1
    window.results.select(1)
    window.canvas.show_preview(None)  # the strip shows the results; the canvas shows the painted mask
    window.canvas.fit_to_window()
    window.statusBar().showMessage("4 results: select one, then Apply")
    for _ in range(20):
        app.processEvents()
    screen = QGuiApplication.primaryScreen()
    shot = screen.grabWindow(0, window.x(), window.y(), window.width(), window.height())
    if shot.isNull() or shot.toImage().allGray():
        shot = window.grab()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    shot.save(out)
    print(out)
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
