"""The terminal explains itself (issue 28, items 9 to 13 and 16 to 21).

Each test runs ``python -m netra_frames`` as a user does, against the session server (or
none), and checks what the user reads: the exit status, the one line on stderr, the files.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from test_cli import Window, assert_one_line_error, clean_env, cli, span

from netra_frames.cli._main import COMMANDS
from netra_frames.server import LocalNetra

# -- 9: a command without its subcommand lists them ---------------------------------------


@pytest.mark.parametrize(
    ("argv", "listed"),
    [
        ([], list(COMMANDS)),
        (["usage"], ["session", "tenant"]),
        (["cache"], ["info", "clear"]),
    ],
    ids=["netra-frames", "usage", "cache"],
)
def test_a_bare_command_prints_its_commands_and_exits_0(argv: list[str], listed: list[str]) -> None:
    proc = cli(*argv, env=clean_env())
    out = proc.stdout.decode()
    assert proc.stderr == b""
    assert out.startswith(f"usage: netra-frames {' '.join(argv)}".strip())
    for name in listed:
        assert f"\n    {name} " in out, name
    if not argv:
        for name, (_, help_line) in COMMANDS.items():
            assert " ".join(help_line.split()[:3]) in " ".join(out.split()), name
