import json

from studio.core.settings import Settings, load_settings, save_settings, settings_path


def test_settings_round_trip(tmp_path):
    path = tmp_path / "settings.json"
    settings = Settings(last_model="/models/a.safetensors", model_folders=["/models"], panel={"steps": 12}, overlay_opacity=0.3)
    save_settings(settings, path)
    assert load_settings(path) == settings
    assert not [p for p in tmp_path.iterdir() if p.name != "settings.json"], "no temporary file is left behind"


def test_missing_file_gives_defaults(tmp_path):
    assert load_settings(tmp_path / "nothing.json") == Settings()


def test_a_corrupt_file_is_set_aside_and_defaults_used(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text('{"last_model": "/x", ', encoding="utf-8")
    assert load_settings(path) == Settings()
    assert (tmp_path / "settings.json.damaged").exists()
    save_settings(Settings(last_model="/y"), path)
    assert load_settings(path).last_model == "/y"


def test_values_of_the_wrong_type_fall_back_one_by_one(tmp_path):
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({
        "last_model": 5, "model_folders": ["/ok", 3], "overlay_opacity": 1, "panel": [], "unknown": True,
    }), encoding="utf-8")
    settings = load_settings(path)
    assert settings.last_model is None
    assert settings.model_folders == ["/ok"]
    assert settings.overlay_opacity == 1.0
    assert settings.panel == {}
    path.write_text("[1, 2]", encoding="utf-8")
    assert load_settings(path) == Settings()


def test_settings_live_in_the_user_config_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert settings_path() == tmp_path / "studio" / "settings.json"
    save_settings(Settings(last_model="/m"))
    assert load_settings().last_model == "/m"


def test_recent_pictures_are_unique_and_bounded():
    settings = Settings()
    for i in range(15):
        settings.add_recent_picture(f"/p{i % 12}.png")
    assert settings.recent_pictures[0] == "/p2.png"
    assert len(settings.recent_pictures) == 10 and len(set(settings.recent_pictures)) == 10
