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
