"""The rectangle and lasso tools: a drag draws a dashed outline on the canvas; on release the shape's pixels are
filled in the mask (or the control map being painted), in one undoable step. Alt (or the eraser) takes them out."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QPainterPath, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsPathItem, QGraphicsScene

from studio.core.masks import Box
from studio.core.shapes import shape_region

OUTLINE = QColor(255, 255, 255)
MIN_STEP = 0.75  # scene pixels between the lasso's recorded points


class ShapeDrag:
    """One drag of a shape tool, from press to release."""

    def __init__(self, kind: str, start: QPointF, erase: bool, scene: QGraphicsScene):
        self.kind, self.erase = kind, erase
        self.points = [(start.x(), start.y())]
        self.outline = QGraphicsPathItem()
        pen = QPen(OUTLINE, 0, Qt.PenStyle.DashLine)  # width 0: one screen pixel at any zoom
        self.outline.setPen(pen)
        self.outline.setZValue(10)
        scene.addItem(self.outline)

    def move_to(self, point: QPointF) -> None:
        here = (point.x(), point.y())
        if self.kind == "rectangle":
            self.points = [self.points[0], here]
        elif np.hypot(here[0] - self.points[-1][0], here[1] - self.points[-1][1]) >= MIN_STEP:
            self.points.append(here)
        self.outline.setPath(self._path())

    def _path(self) -> QPainterPath:
        path = QPainterPath()
        if self.kind == "rectangle" and len(self.points) == 2:
            (x0, y0), (x1, y1) = self.points
            path.addRect(min(x0, x1), min(y0, y1), abs(x1 - x0), abs(y1 - y0))
        elif len(self.points) > 1:
            path.addPolygon(QPolygonF([QPointF(x, y) for x, y in self.points]))
            path.closeSubpath()
        return path

    def finish(self, size: tuple[int, int]) -> tuple[Box, np.ndarray] | None:
        """The pixels the shape covers (None for none); the outline goes."""
        scene = self.outline.scene()
        if scene is not None:
            scene.removeItem(self.outline)
        return shape_region(size, self.kind, self.points)
