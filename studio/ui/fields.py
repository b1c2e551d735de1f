"""Small input widgets: a slider with its numeric field, and a seed with lock and dice."""

from __future__ import annotations

import random

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QDoubleSpinBox, QHBoxLayout, QSlider, QSpinBox, QToolButton, QWidget

from studio.core.recipe import MAX_SEED
from studio.ui.theme import icon


class SliderField(QWidget):
    """A slider and a number field showing the same value. The slider covers the everyday range
    (`soft_maximum`); the field accepts the full range."""

    valueChanged = Signal(float)

    def __init__(self, minimum: float, maximum: float, value: float, decimals: int = 0, step: float = 1,
                 soft_maximum: float | None = None, suffix: str = "", parent=None):
        super().__init__(parent)
        self._scale = 10**decimals
        self.decimals = decimals
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(round(minimum * self._scale), round((soft_maximum or maximum) * self._scale))
        self.slider.setSingleStep(max(1, round(step * self._scale)))
        self.slider.setPageStep(max(1, round(step * self._scale * 10)))
        self.spin = QDoubleSpinBox() if decimals else QSpinBox()
        if decimals:
            self.spin.setDecimals(decimals)
        self.spin.setRange(minimum, maximum)
        self.spin.setSingleStep(step)
        self.spin.setSuffix(suffix)
        self.spin.setKeyboardTracking(False)
        self.spin.setAlignment(Qt.AlignmentFlag.AlignRight)
        self.spin.setFixedWidth(72)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slider, 1)
        layout.addWidget(self.spin)
        self.slider.valueChanged.connect(self._from_slider)
        self.spin.valueChanged.connect(self._from_spin)
        self.setValue(value)

    def value(self) -> float | int:
        value = self.spin.value()
        return round(value, self.decimals) if self.decimals else int(value)

    def setValue(self, value: float) -> None:
        self.spin.setValue(float(value) if self.decimals else round(value))  # QSpinBox takes whole numbers only

    def _from_slider(self, position: int) -> None:
        value = position / self._scale
        if abs(value - self.spin.value()) * self._scale >= 0.5:
            self.spin.setValue(value)

    def _from_spin(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(value * self._scale))
        self.slider.blockSignals(False)
        self.valueChanged.emit(float(value))


class SeedField(QWidget):
    """The seed, a lock that keeps it from one job to the next, and a dice that draws a new one.
    Unlocked, every job draws a fresh seed and shows it here, so any result can be made again."""

    changed = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.spin = QDoubleSpinBox()
        self.spin.setDecimals(0)
        self.spin.setRange(0, MAX_SEED)
        self.spin.setKeyboardTracking(False)
        self.spin.setToolTip("Seed")
        self.lock = QToolButton()
        self.lock.setCheckable(True)
        self.lock.setObjectName("seedLock")
        self.lock.setToolTip("Lock the seed: every job uses the seed shown (unlocked: a new random seed per job)")
        self.dice = QToolButton()
        self.dice.setObjectName("seedDice")
        self.dice.setIcon(icon("dice"))
        self.dice.setToolTip("Draw a new random seed")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.spin, 1)
        layout.addWidget(self.lock)
        layout.addWidget(self.dice)
        self.lock.toggled.connect(self._show_lock)
        self.dice.clicked.connect(self.randomise)
        self.spin.valueChanged.connect(self.changed)
        self.lock.toggled.connect(self.changed)
        self._show_lock(False)

    @property
    def seed(self) -> int:
        return int(self.spin.value())

    @seed.setter
    def seed(self, value: int) -> None:
        self.spin.setValue(int(value) % (MAX_SEED + 1))

    @property
    def locked(self) -> bool:
        return self.lock.isChecked()

    @locked.setter
    def locked(self, value: bool) -> None:
        self.lock.setChecked(bool(value))

    def randomise(self) -> int:
        self.seed = random.randint(0, MAX_SEED)
        return self.seed

    def seed_for_next_job(self) -> int:
        return self.seed if self.locked else self.randomise()

    def _show_lock(self, locked: bool) -> None:
        self.lock.setIcon(icon("lock" if locked else "unlock"))
