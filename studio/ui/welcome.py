"""The first-run page: what Studio needs (a model) and how to give it, in two clicks."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QVBoxLayout, QWidget


class WelcomePage(QWidget):
    add_file_requested = Signal()
    add_folder_requested = Signal()
    open_picture_requested = Signal()
    use_starters_requested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setObjectName("welcomePage")
        card = QFrame()
        card.setObjectName("welcomeCard")
        title = QLabel("Welcome to Studio")
        title.setObjectName("welcomeTitle")
        text = QLabel(
            "Studio paints with your own Stable Diffusion models, fully offline.\n"
            "Add a checkpoint (.safetensors from a model site, SD 1.x, 2.x or SDXL), or point Studio at a "
            "models folder (AUTOMATIC1111's models/Stable-diffusion, ComfyUI's models/checkpoints) "
            "and it lists what it finds."
        )
        text.setWordWrap(True)
        self.add_file = QPushButton("Add a checkpoint file…")
        self.add_folder = QPushButton("Add a models folder…")
        self.open_picture = QPushButton("Open a picture…")
        self.use_starters = QPushButton("Use the starter models (no download)")
        self.use_starters.setToolTip(
            "Studio's own small models, trained on freely licensed photos: they remove objects, repaint regions "
            "and upscale ×4 on any computer. They ignore prompts; add a Stable Diffusion checkpoint for that.")
        self.use_starters.setVisible(False)
        self.use_starters.clicked.connect(self.use_starters_requested)
        self.add_file.setObjectName("primaryButton")
        self.add_file.clicked.connect(self.add_file_requested)
        self.add_folder.clicked.connect(self.add_folder_requested)
        self.open_picture.clicked.connect(self.open_picture_requested)
        hint = QLabel("You can open a picture and paint a mask before adding a model.")
        self.hint = hint
        hint.setObjectName("hint")
        hint.setWordWrap(True)
        inner = QVBoxLayout(card)
        inner.setContentsMargins(32, 28, 32, 28)
        inner.setSpacing(12)
        for widget in (title, text, self.add_file, self.add_folder, self.use_starters, self.open_picture, hint):
            inner.addWidget(widget)
        card.setFixedWidth(540)
        text.setMinimumHeight(text.heightForWidth(540 - 64))  # a wrapped label does not ask for its height
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addWidget(card, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(2)

    def offer_starters(self, available: bool) -> None:
        """Show the starter-model button when Studio ships starter models."""
        self.use_starters.setVisible(available)
        self.hint.setText("No checkpoint yet? The starter models remove objects, repaint regions and upscale right "
                          "away; they ignore prompts." if available else
                          "You can open a picture and paint a mask before adding a model.")
