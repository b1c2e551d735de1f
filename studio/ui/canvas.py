"""The canvas: the picture, its mask as a coloured overlay, and the painting and navigation habits of Krita
and Photoshop (wheel zoom about the cursor, space-drag and middle-drag to pan, shift-click for straight lines).

Scene coordinates are picture pixels. A stroke redraws only the tiles of the overlay it touched, so painting
costs the same on a small picture and on an 8192×8192 one.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPixmap, QTransform
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsPixmapItem,
    QGraphicsScene,
    QGraphicsView,
    QLabel,
    QStyleOptionGraphicsItem,
)

from studio.core.brush import Brush, MaskStroke
from studio.core.document import MASK, PICTURE, Change, Document
from studio.core.masks import Box
from studio.ui.qimage import premultiplied_overlay, rgb_to_qimage
from studio.ui.shape_tool import ShapeDrag

OVERLAY_TILE = 256
MIN_ZOOM, MAX_ZOOM = 1 / 64, 64.0
WHEEL_STEP = 1.2  # zoom factor per wheel notch
BACKGROUND = QColor("#1e1f22")


def _qrect(box: Box) -> QRectF:
    return QRectF(box.left, box.top, box.width, box.height)


class PictureItem(QGraphicsPixmapItem):
    """The picture. A changed region is repainted into the pixmap, never the whole picture again."""

    def set_pixels(self, pixels: np.ndarray) -> None:
        self.setPixmap(QPixmap.fromImage(rgb_to_qimage(pixels)))

    def update_region(self, pixels: np.ndarray, box: Box) -> None:
        pixmap = self.pixmap()
        painter = QPainter(pixmap)
        painter.setCompositionMode(QPainter.CompositionMode.CompositionMode_Source)
        painter.drawImage(box.left, box.top, rgb_to_qimage(pixels[box.top:box.bottom, box.left:box.right]))
        painter.end()
        self.setPixmap(pixmap)


class MaskOverlayItem(QGraphicsItem):
    """The mask drawn in colour over the picture, from a cache of coloured tiles; tiles with no mask in them
    are neither stored nor drawn. Invalidating a box rebuilds only its tiles, lazily, at the next paint."""

    def __init__(self) -> None:
        super().__init__()
        self.mask: np.ndarray | None = None
        self.color = QColor("#ff3b5c")
        self._tiles: dict[tuple[int, int], tuple[QImage, np.ndarray] | None] = {}
        self.tiles_built = 0  # for tests and profiling
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)

    def set_mask(self, mask: np.ndarray | None) -> None:
        self.prepareGeometryChange()
        self.mask = mask
        self._tiles.clear()
        self.update()

    def set_color(self, color: QColor) -> None:
        self.color = QColor(color)
        self._tiles.clear()
        self.update()

    def invalidate(self, box: Box | None) -> None:
        if box is None or self.mask is None:
            return
        for ty in range(box.top // OVERLAY_TILE, (box.bottom - 1) // OVERLAY_TILE + 1):
            for tx in range(box.left // OVERLAY_TILE, (box.right - 1) // OVERLAY_TILE + 1):
                self._tiles.pop((tx, ty), None)
        self.update(_qrect(box))

    def boundingRect(self) -> QRectF:
        if self.mask is None:
            return QRectF()
        return QRectF(0, 0, self.mask.shape[1], self.mask.shape[0])

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        if self.mask is None:
            return
        exposed = option.exposedRect.intersected(self.boundingRect())
        if exposed.isEmpty():
            return
        first_x, first_y = int(exposed.left()) // OVERLAY_TILE, int(exposed.top()) // OVERLAY_TILE
        last_x, last_y = int(math.ceil(exposed.right())) // OVERLAY_TILE, int(math.ceil(exposed.bottom())) // OVERLAY_TILE
        for ty in range(first_y, last_y + 1):
            for tx in range(first_x, last_x + 1):
                tile = self._tile(tx, ty)
                if tile is not None:
                    painter.drawImage(QPointF(tx * OVERLAY_TILE, ty * OVERLAY_TILE), tile[0])

    def _tile(self, tx: int, ty: int) -> tuple[QImage, np.ndarray] | None:
        key = (tx, ty)
        if key not in self._tiles:
            part = self.mask[ty * OVERLAY_TILE:(ty + 1) * OVERLAY_TILE, tx * OVERLAY_TILE:(tx + 1) * OVERLAY_TILE]
            rgb = (self.color.red(), self.color.green(), self.color.blue())
            self._tiles[key] = premultiplied_overlay(part, rgb) if part.size and part.any() else None
            self.tiles_built += 1
        return self._tiles[key]


class ControlMapItem(MaskOverlayItem):
    """A control map (HxWx3) drawn over the picture from the same cache of tiles, so painting on it redraws only
    the tiles a stroke touched."""

    def _tile(self, tx: int, ty: int) -> tuple[QImage, np.ndarray] | None:
        key = (tx, ty)
        if key not in self._tiles:
            part = self.mask[ty * OVERLAY_TILE:(ty + 1) * OVERLAY_TILE, tx * OVERLAY_TILE:(tx + 1) * OVERLAY_TILE]
            self._tiles[key] = (rgb_to_qimage(part), part) if part.size else None
            self.tiles_built += 1
        return self._tiles[key]


class BrushOutlineItem(QGraphicsEllipseItem):
    """The brush's outline under the cursor, a light and a dark ring so it shows on any picture."""

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(10)
        self.setVisible(False)

    def paint(self, painter: QPainter, option, widget=None) -> None:
        rect = self.rect()
        for color, width in ((QColor(0, 0, 0, 160), 3), (QColor(255, 255, 255, 230), 1)):
            pen = QPen(color, width)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawEllipse(rect)

    def place(self, center: QPointF, diameter: float) -> None:
        radius = diameter / 2
        self.setRect(QRectF(center.x() - radius, center.y() - radius, diameter, diameter))


class CanvasView(QGraphicsView):
    edited = Signal(object)  # a Change made by a stroke
    zoom_changed = Signal(float)
    cursor_moved = Signal(int, int)
    files_dropped = Signal(list)  # [Path]
    image_dropped = Signal(QImage)
    brush_changed = Signal(object)  # Brush
    color_picked = Signal(object)  # (r, g, b) taken from the picture by Ctrl+click with the colour brush

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setScene(QGraphicsScene(self))
        self.picture_item = PictureItem()
        self.layer_item = ControlMapItem()
        self.preview_item = QGraphicsPixmapItem()
        self.overlay_item = MaskOverlayItem()
        self.outline_item = BrushOutlineItem()
        for z, item in enumerate((self.picture_item, self.layer_item, self.preview_item, self.overlay_item)):
            item.setZValue(z)
            self.scene().addItem(item)
        self.scene().addItem(self.outline_item)
        self.preview_item.setVisible(False)
        self.overlay_item.setOpacity(0.5)

        self.document: Document | None = None
        self.shown_layer: str | None = None  # the control map shown over the picture
        self.paint_layer = MASK  # where strokes go: the mask, or a control map
        self.brush = Brush()
        self.erasing = False
        self.shape: str | None = None  # "rectangle" or "lasso" instead of the brush (core/shapes.py)
        self.painting_picture = False  # the colour brush: strokes paint the picture itself in `paint_color`
        self.paint_color: tuple[int, int, int] = (220, 60, 50)
        self._shape_drag: ShapeDrag | None = None
        self._stroke: MaskStroke | None = None
        self._last_stroke_end: tuple[float, float] | None = None
        self._pan_from: QPointF | None = None
        self._space_held = False

        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setBackgroundBrush(BACKGROUND)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAcceptDrops(True)
        self.setObjectName("canvas")
        self._placeholder = QLabel(
            "Open a picture to start\n\nDrop it here, paste it (Ctrl+V) or open it (Ctrl+O)", self.viewport()
        )
        self._placeholder.setObjectName("canvasPlaceholder")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._update_cursor()

    # Document

    def set_document(self, document: Document | None) -> None:
        self.end_stroke()
        self.document = document
        self._last_stroke_end = None
        self.show_preview(None)
        self._show_document()
        self._placeholder.setVisible(document is None)
        self.fit_to_window()

    def _show_document(self) -> None:
        document = self.document
        if document is None:
            self.picture_item.setPixmap(QPixmap())
            self.overlay_item.set_mask(None)
        else:
            self.picture_item.set_pixels(document.picture)
            self.overlay_item.set_mask(document.mask)
            width, height = document.size
            margin = max(width, height) * 4
            self.setSceneRect(QRectF(-margin, -margin, width + 2 * margin, height + 2 * margin))
        self._show_layer_pixels()

    def refresh(self, change: Change | None) -> None:
        """Redraw what an edit, an undo or a redo changed."""
        if change is None or self.document is None:
            return
        if self.picture_item.pixmap().size().toTuple() != self.document.size:  # the document changed size
            self.end_stroke()
            self._show_document()
            self.fit_to_window()
        elif change.layer == MASK:
            self.overlay_item.invalidate(change.box)
        elif change.layer == PICTURE:
            self.picture_item.update_region(self.document.picture, change.box)
        elif change.layer == self.shown_layer:
            self._show_layer_pixels(change.box)

    # Control maps

    def _layer_pixels(self, name: str | None) -> np.ndarray | None:
        layers = getattr(self.document, "layers", None)
        return layers.get(name) if layers is not None and name is not None else None

    def show_layer(self, name: str | None, opacity: float = 1.0) -> None:
        """Show a control map over the picture (None: none), at `opacity`."""
        self.shown_layer = name
        self.layer_item.setOpacity(max(0.0, min(1.0, opacity)))
        self._show_layer_pixels()

    def _show_layer_pixels(self, box: Box | None = None) -> None:
        """Show the shown layer's pixels; only `box` is redrawn when the layer is the same array as before."""
        pixels = self._layer_pixels(self.shown_layer)
        if box is not None and pixels is not None and self.layer_item.mask is pixels:
            self.layer_item.invalidate(box)
        else:
            self.layer_item.set_mask(pixels)
        self.layer_item.setVisible(pixels is not None)

    def set_paint_layer(self, name: str | None) -> None:
        """Strokes go to the mask (None) or to a control map, which is then shown."""
        self.end_stroke()
        self.paint_layer = name or MASK

    def refresh_mask(self) -> None:
        if self.document is not None:
            self.overlay_item.set_mask(self.document.mask)

    def show_preview(self, pixels: np.ndarray | None) -> None:
        """Show a result over the picture (without the mask overlay) until it is applied or put away. A result of
        another size (an upscaled one) is scaled onto the picture: zoom in to see its detail."""
        if pixels is None:
            self.preview_item.setVisible(False)
            self.preview_item.setPixmap(QPixmap())
            self.overlay_item.setVisible(True)
            return
        self.preview_item.setPixmap(QPixmap.fromImage(rgb_to_qimage(pixels)))
        width = self.document.size[0] if self.document is not None else pixels.shape[1]
        self.preview_item.setScale(width / pixels.shape[1])
        self.preview_item.setVisible(True)
        self.overlay_item.setVisible(False)

    @property
    def previewing(self) -> bool:
        return self.preview_item.isVisible()

    # Brush

    def set_brush(self, brush: Brush) -> None:
        self.brush = brush
        self._place_outline()
        self.brush_changed.emit(brush)

    def set_erasing(self, erasing: bool) -> None:
        self.erasing = erasing
        self.brush_changed.emit(self.brush)

    def set_overlay_opacity(self, opacity: float) -> None:
        self.overlay_item.setOpacity(max(0.0, min(1.0, opacity)))

    def set_overlay_color(self, color: QColor) -> None:
        self.overlay_item.set_color(color)

    def painting_brush(self) -> Brush:
        return replace(self.brush, erase=self.erasing)

    # Zoom

    @property
    def zoom(self) -> float:
        return self.transform().m11()

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Zoom keeping the picture point under `anchor` (a viewport position) where it is."""
        target = max(MIN_ZOOM, min(MAX_ZOOM, self.zoom * factor))
        anchor = anchor if anchor is not None else QPointF(self.viewport().rect().center())
        fixed = self.to_scene(anchor)
        self.set_zoom(target)
        moved = self.mapFromScene(fixed)
        self._scroll_by(QPointF(moved) - anchor)

    def set_zoom(self, zoom: float) -> None:
        self.setTransform(QTransform.fromScale(zoom, zoom))
        smooth = zoom < 1.0
        self.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, smooth)
        mode = Qt.TransformationMode.SmoothTransformation if smooth else Qt.TransformationMode.FastTransformation
        self.picture_item.setTransformationMode(mode)
        self.preview_item.setTransformationMode(mode)
        self.zoom_changed.emit(zoom)

    def fit_to_window(self) -> None:
        if self.document is None:
            self.set_zoom(1.0)
            return
        width, height = self.document.size
        view = self.viewport().rect()
        zoom = min((view.width() - 24) / width, (view.height() - 24) / height)
        self.set_zoom(max(MIN_ZOOM, min(MAX_ZOOM, zoom)))
        self.centerOn(width / 2, height / 2)

    def actual_size(self) -> None:
        center = self.to_scene(QPointF(self.viewport().rect().center()))
        self.set_zoom(1.0)
        self.centerOn(center)

    def to_scene(self, position: QPointF) -> QPointF:
        """A viewport position in picture pixels, with sub-pixel precision."""
        inverse, _ = self.viewportTransform().inverted()
        return inverse.map(QPointF(position))

    def _scroll_by(self, delta: QPointF) -> None:
        horizontal, vertical = self.horizontalScrollBar(), self.verticalScrollBar()
        horizontal.setValue(horizontal.value() + round(delta.x()))
        vertical.setValue(vertical.value() + round(delta.y()))

    # Input

    def wheelEvent(self, event) -> None:
        notches = event.angleDelta().y() / 120
        if notches:
            self.zoom_by(WHEEL_STEP**notches, event.position())
        event.accept()

    def mousePressEvent(self, event) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        button = event.button()
        if button == Qt.MouseButton.MiddleButton or (button == Qt.MouseButton.LeftButton and self._space_held):
            self._pan_from = event.position()
            self._update_cursor()
        elif (button == Qt.MouseButton.LeftButton and self.document is not None and self.painting_picture
              and event.modifiers() & Qt.KeyboardModifier.ControlModifier):
            self._pick_color(self.to_scene(event.position()))
        elif button == Qt.MouseButton.LeftButton and self.document is not None and self.shape is not None:
            erase = self.erasing or bool(event.modifiers() & Qt.KeyboardModifier.AltModifier)
            self._begin_shape(self.to_scene(event.position()), erase)
        elif button == Qt.MouseButton.LeftButton and self.document is not None:
            self._begin_stroke(self.to_scene(event.position()), event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
        event.accept()

    def mouseMoveEvent(self, event) -> None:
        point = self.to_scene(event.position())
        if self._pan_from is not None:
            self._scroll_by(self._pan_from - event.position())
            self._pan_from = event.position()
        elif self._stroke is not None:
            self._stroke_changed(self._stroke.move_to(point.x(), point.y()))
        elif self._shape_drag is not None:
            self._shape_drag.move_to(point)
        self._place_outline(point)
        self.cursor_moved.emit(math.floor(point.x()), math.floor(point.y()))
        event.accept()

    def mouseReleaseEvent(self, event) -> None:
        if self._pan_from is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_from = None
            self._update_cursor()
        elif event.button() == Qt.MouseButton.LeftButton:
            self._end_shape()
            self.end_stroke()
        event.accept()

    def mouseDoubleClickEvent(self, event) -> None:
        self.mousePressEvent(event)

    def keyPressEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space_held = True
                self._update_cursor()
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event) -> None:
        if event.key() == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space_held = False
                self._update_cursor()
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:
        self._space_held = False
        self._update_cursor()
        super().focusOutEvent(event)

    def enterEvent(self, event) -> None:
        self.outline_item.setVisible(self.document is not None and self.shape is None)
        super().enterEvent(event)

    def leaveEvent(self, event) -> None:
        self.outline_item.setVisible(False)
        super().leaveEvent(event)

    # Strokes

    def _begin_stroke(self, point: QPointF, straight_line: bool) -> None:
        if self.previewing:
            self.show_preview(None)
        if self.painting_picture:
            brush = replace(self.brush, color=self.paint_color, erase=False)
            self._stroke = self.document.begin_stroke(brush, PICTURE)
        elif self.paint_layer == MASK:
            self._stroke = self.document.begin_stroke(self.painting_brush())
        elif self._layer_pixels(self.paint_layer) is not None:
            self._stroke = self.document.begin_stroke(self.painting_brush(), self.paint_layer)
        else:
            return  # the map to paint on is not made yet (or was undone)
        if straight_line and self._last_stroke_end is not None:
            self._stroke.move_to(*self._last_stroke_end)
        self._stroke_changed(self._stroke.move_to(point.x(), point.y()))

    def set_shape(self, shape: str | None) -> None:
        """Draw rectangles or lassos instead of brush strokes (None: the brush)."""
        self.shape = shape
        if shape is not None:
            self.painting_picture = False
        self._update_cursor()

    def _begin_shape(self, point: QPointF, erase: bool) -> None:
        if self.paint_layer != MASK and self._layer_pixels(self.paint_layer) is None:
            return  # the map to paint on is not made yet (or was undone)
        if self.previewing:
            self.show_preview(None)
        self._shape_drag = ShapeDrag(self.shape, point, erase, self.scene())

    def _end_shape(self) -> None:
        drag, self._shape_drag = self._shape_drag, None
        if drag is None or self.document is None:
            return
        region = drag.finish(self.document.size)
        if region is None:
            return
        box, covered = region
        label = f"{'Erase' if drag.erase else 'Fill'} {drag.kind}"
        change = self.document.fill_region(self.paint_layer, box, covered, drag.erase, label)
        if change is not None:
            self._stroke_changed(box)
            self.edited.emit(change)

    def _stroke_changed(self, box: Box | None) -> None:
        if self.painting_picture and box is not None:
            self.picture_item.update_region(self.document.picture, box)
        elif not self.painting_picture:
            (self.overlay_item if self.paint_layer == MASK else self.layer_item).invalidate(box)

    def set_painting_picture(self, painting: bool) -> None:
        """The colour brush (strokes on the picture, a sketch for SDEdit or Inpaint) or the mask brushes."""
        self.painting_picture = painting
        if painting:
            self.set_shape(None)

    def _pick_color(self, point: QPointF) -> None:
        """Ctrl+click with the colour brush: take the picture's colour under the pointer."""
        x, y = math.floor(point.x()), math.floor(point.y())
        width, height = self.document.size
        if 0 <= x < width and 0 <= y < height:
            self.paint_color = tuple(int(v) for v in self.document.picture[y, x])
            self.color_picked.emit(self.paint_color)

    def end_stroke(self) -> None:
        """Finish the brush stroke under way; a shape still being drawn is dropped (its document may be going)."""
        if self._shape_drag is not None:
            self._shape_drag.finish((0, 0))
            self._shape_drag = None
        stroke, self._stroke = self._stroke, None
        if stroke is None or self.document is None:
            return
        self._last_stroke_end = stroke.last_point
        stroke.finish()
        self._stroke_changed(stroke.dirty)
        change = self.document.end_stroke(stroke)
        if change is not None:
            self.edited.emit(change)

    @property
    def stroking(self) -> bool:
        return self._stroke is not None or self._shape_drag is not None

    def _place_outline(self, point: QPointF | None = None) -> None:
        if point is None:
            rect = self.outline_item.rect()
            point = rect.center() if not rect.isNull() else None
        if point is not None:
            self.outline_item.place(point, self.brush.size)

    def _update_cursor(self) -> None:
        if self._pan_from is not None:
            shape = Qt.CursorShape.ClosedHandCursor
        elif self._space_held:
            shape = Qt.CursorShape.OpenHandCursor
        else:
            shape = Qt.CursorShape.CrossCursor
        self.viewport().setCursor(shape)
        self.outline_item.setVisible(self.document is not None and not self._space_held and self.underMouse()
                                     and self.shape is None)

    # Drag and drop

    def dragEnterEvent(self, event) -> None:
        if event.mimeData().hasUrls() or event.mimeData().hasImage():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        self.dragEnterEvent(event)

    def dropEvent(self, event) -> None:
        data = event.mimeData()
        paths = [Path(url.toLocalFile()) for url in data.urls() if url.isLocalFile()]
        if paths:
            self.files_dropped.emit(paths)
        elif data.hasImage():
            self.image_dropped.emit(QImage(data.imageData()))
        event.acceptProposedAction()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._placeholder.setGeometry(self.viewport().rect())
