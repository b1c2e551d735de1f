"""File ▸ Open recent: the pictures opened, newest first, across launches; a picture that is gone is shown
disabled; the list can be cleared."""

from tests.fixtures.pictures import write_picture


def texts(menu):
    menu.fill()
    return [(action.text(), action.isEnabled()) for action in menu.actions() if not action.isSeparator()]


def test_recent_pictures_open_again_and_survive_a_restart(make_window, tmp_path):
    first, second = write_picture(tmp_path / "first.png", 64, 64), write_picture(tmp_path / "second.png", 64, 64)
    window = make_window()
    menu = window.commands.recent
    assert texts(menu) == [("No pictures yet", False)]
    assert window.open_picture(first) and window.open_picture(second)
    assert texts(menu) == [("&1 second.png", True), ("&2 first.png", True), ("Clear the list", True)]
    menu.actions()[1].trigger()
    assert window.document.source == first
    window.close()

    again = make_window()
    first.unlink()
    assert texts(again.commands.recent)[:2] == [("&1 first.png (missing)", False), ("&2 second.png", True)]
    assert "Open &recent" in [a.text() for a in again.menuBar().actions()[0].menu().actions()]
    again.commands.recent.clear_recent()
    assert texts(again.commands.recent) == [("No pictures yet", False)]


def test_dropped_model_files_join_the_models_and_a_dropped_picture_opens(make_window, fake_model, tmp_path):
    from tests.fixtures.tiny_embeddings import save_a1111_embedding

    window = make_window()
    embedding = save_a1111_embedding(tmp_path / "drops" / "inkwash.safetensors", width=768)
    picture = write_picture(tmp_path / "drops" / "photo.png", 64, 64)
    window.canvas.files_dropped.emit([fake_model, embedding, picture])
    listed = {entry.path.name: entry.kind for entry in window.model_panel.entries}
    assert listed == {"tiny-sd15.safetensors": "pipeline", "inkwash.safetensors": "embedding"}
    assert window.model_panel.current_path == str(fake_model.resolve())
    assert window.document is not None and window.document.source == picture
    window.models.add_checkpoint(save_a1111_embedding(tmp_path / "more" / "fog.safetensors", width=768))
    assert window.message_bar.text == "Found 1 embedding."
