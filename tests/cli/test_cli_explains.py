"""The terminal explains itself (issue 28, items 9 to 13 and 16 to 21).

Each test runs ``python -m netra_frames`` as a user does, against the session server (or
none), and checks what the user reads: the exit status, the one line on stderr, the files.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from test_cli import Window, assert_one_line_error, clean_env, cli, span
from test_cli_docs import commands

from netra_frames.cli import main
from netra_frames.cli._main import COMMANDS
from netra_frames.query import FILTERS
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


# -- 10: a filter given twice is an error, not the last one silently ----------------------


def commands_with_filters() -> dict[str, list[str]]:
    """Each command taking the traces filters, with the arguments it needs besides them."""
    return {"traces": [], "export": ["out"], "report": ["-o", "r.html"]}


def test_every_command_with_filters_is_covered() -> None:
    with_filters = {
        name for name, sub in commands().items() if "--tenant" in sub._option_string_actions
    }
    assert with_filters == set(commands_with_filters())


@pytest.mark.parametrize("command", sorted(commands_with_filters()))
@pytest.mark.parametrize("name", FILTERS)
def test_a_filter_given_twice_is_one_line_naming_it(
    command: str, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    short, long = "--" + name.removesuffix("_id"), "--" + name.replace("_", "-")
    argv = [command, *commands_with_filters()[command], short, "a", long, "b"]
    with pytest.raises(SystemExit) as stop:
        main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert f"argument {short}/{long}: given twice ('a', then 'b')" in err
    assert "once per id" in err


def test_a_repeated_tenant_sends_no_request(server: LocalNetra, tmp_path: Path) -> None:
    server.reset_stats()
    proc = cli("traces", "--tenant", "AceTech", "--tenant", "Globex", "-o", "t.csv",
               server=server, cwd=tmp_path, code=2)  # fmt: skip
    assert_one_line_error(proc, "--tenant", "given twice")
    assert server.stats.requests == 0 and list(tmp_path.iterdir()) == []
