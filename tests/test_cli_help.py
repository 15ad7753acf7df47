"""Every `mixlab` command answers --help (argparse formats help lazily, so a stray % only fails when asked)."""

import pytest

from mixlab.cli import build_parser, main


def subcommands() -> list[list[str]]:
    parser = build_parser()
    stages = parser._subparsers._group_actions[0].choices
    out = []
    for name, sub in stages.items():
        out.append([name])
        for action in sub._actions:
            if hasattr(action, "choices") and isinstance(action.choices, dict):
                out += [[name, inner] for inner in action.choices]
    return out


@pytest.mark.parametrize("argv", subcommands(), ids=" ".join)
def test_help(argv, capsys):
    with pytest.raises(SystemExit) as done:
        main([*argv, "--help"])
    assert done.value.code == 0
    assert "usage: mixlab" in capsys.readouterr().out
