"""`studio plugins …`: the sub-command the CLI wires in (studio/plugins/cli.py)."""

import argparse

import pytest

from studio.plugins import PluginError, cli


def parse(*argv):
    parser = argparse.ArgumentParser(prog="studio")
    cli.add_subcommand(parser.add_subparsers(dest="command"))
    return parser.parse_args(["plugins", *argv])


def test_list_prints_every_plugin_with_its_status(registry, capsys):
    registry.disable("lms")
    assert cli.run(parse("list"), registry) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split()[:5] == ["NAME", "KIND", "VERSION", "ORIGIN", "STATUS"]
    assert any(line.startswith("dpmpp_2m_karras ") and "builtin" in line for line in lines)
    assert any(line.startswith("lms ") and "disabled" in line for line in lines)


def test_a_bare_plugins_command_lists(registry, capsys):
    assert cli.run(parse(), registry) == 0 and "cfg_rescale" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (("enable", "warp"), "no plugin named 'warp'"),
        (("remove", "euler"), "built into Studio; it can be disabled but not removed"),
        (("install", "/nowhere/plugin.whl"), "nothing to install at /nowhere/plugin.whl"),
        (("disable", "cfg"), "cannot be disabled"),
    ],
)
def test_mistakes_are_one_line_errors(registry, argv, message, tmp_path):
    with pytest.raises(PluginError, match=message):
        cli.run(parse(*argv), registry)


def test_install_refuses_what_is_not_a_wheel_or_project(registry, tmp_path):
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(PluginError, match="not a wheel"):
        cli.run(parse("install", str(tmp_path / "notes.txt")), registry)
    with pytest.raises(PluginError, match="not a Python project"):
        cli.run(parse("install", str(tmp_path)), registry)
