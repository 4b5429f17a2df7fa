"""The terminal explains itself (issue 28, items 9 to 13 and 16 to 21).

Each test runs ``python -m netra_frames`` as a user does, against the session server (or
none), and checks what the user reads: the exit status, the one line on stderr, the files.
"""

from __future__ import annotations

import re
import shutil
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from test_cli import Window, assert_one_line_error, clean_env, cli, span
from test_cli_docs import commands

import netra_frames as nf
from netra_frames.cli import build_parser, main
from netra_frames.cli._main import COMMANDS
from netra_frames.cli._options import KEYWORDS, Word, flag_words
from netra_frames.demo import FILES
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


# -- 16: messages in the command line's words, never a Python keyword ---------------------

PYTHON_KEYWORD = re.compile(r"(?<![\w.\-/&?=])[a-z][a-z0-9_]*=")
"""``base_url=``, ``start='x'``: a Python keyword in a message (``date=...`` folders aside)."""

WORDS: list[tuple[list[str], dict[str, str], str]] = [
    (["traces", "--base-url", "http://example.com"], {}, "pass --allow-insecure-http if"),
    (["traces"], {"NETRA_OTLP_ENDPOINT": ""}, "pass --base-url or set NETRA_OTLP_ENDPOINT"),
    (["traces"], {"NETRA_API_KEY": "nk_wrong"}, "(check NETRA_API_KEY / --api-key-env)"),
    (["traces", "--start", "yesterday"], {}, "error: --start 'yesterday' is not an ISO 8601"),
    (["traces", "--base-url", "http://u:p@127.0.0.1:9"], {}, "pass --api-key-env instead"),
    (["traces", "--base-url", "http://127.0.0.1:9", "--max-retries", "0"], {},
     "is NETRA_OTLP_ENDPOINT (--base-url) right?"),
    (["traces", "-o", "t.txt"], {}, "--format"),
    (["traces", "--format", "csv"], {}, "without --start and --end it is the last 7 days"),
    (["traces", "--tenant", "acetech", "--user", "u", "--start", "2025-12-01", "--end",
      "2026-01-01", "--format", "csv"], {}, "matched --user 'u' --tenant 'acetech' in ["),
    (["traces"], {"NETRA_HEADERS": "x-api-key=other"}, "remove it from NETRA_HEADERS and"),
    (["usage", "tenant", "AceTech", "--max-retries", "0"],
     {"NETRA_USAGE_TIMEOUT": "0.2", "LATENCY": "2000"}, "raise NETRA_USAGE_TIMEOUT if"),
    (["traces", "--tenant", " "], {}, "error: --tenant ' ' is empty or blank"),
    (["spans", ""], {}, "error: TRACE_ID '' is empty or blank"),
    (["spans", "abc", "--span-name", " "], {}, "error: --span-name ' ' is empty or blank"),
    (["usage", "session", " "], {}, "error: ID ' ' is empty or blank"),
    (["export", "out", "--start", "yesterday"], {}, "error: --start 'yesterday' is not"),
    (["report", "-o", "r.html", "--end", "soon"], {}, "error: --end 'soon' is not"),
    (["serve", "--anchor", "soon"], {}, "error: --anchor 'soon' is not"),
    (["demo", "--anchor", "soon"], {}, "error: --anchor 'soon' is not"),
    (["cache", "clear", "--older-than", "soon"], {}, "error: --older-than 'soon' is not a"),
]  # fmt: skip
"""A command, its environment and what its one line says: each case of issue 28, item 16,
each kind of keyword (an option, a flag, a value, a variable, a pair of both, a positional)
and every command."""


@pytest.mark.parametrize(("argv", "env", "said"), WORDS, ids=[w[2] for w in WORDS])
def test_messages_say_options_and_variables_not_python_keywords(
    server: LocalNetra, tmp_path: Path, argv: list[str], env: dict[str, str], said: str
) -> None:
    env = dict(env)
    latency = env.pop("LATENCY", None)
    if latency is not None:
        server.set_faults(latency_ms=float(latency))
    proc = subprocess.run(
        [sys.executable, "-m", "netra_frames", *argv],
        env=clean_env(server, **env), cwd=tmp_path, capture_output=True, timeout=120, check=False,
    )  # fmt: skip
    err = proc.stderr.decode()
    assert said in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert PYTHON_KEYWORD.findall(err) == [], err


def test_every_option_is_one_word_and_every_keyword_has_one() -> None:
    """No two options set one keyword under different names (the words would be ambiguous),
    except the pairs that switch one thing on and off."""
    words = flag_words(build_parser())
    for keyword, flag in KEYWORDS.items():
        assert words[keyword].text == flag
    assert words["tenant_id"].text == "--tenant" and words["sort_field"].text == "--sort-field"
    assert words["allow_insecure_http"] == Word("--allow-insecure-http", takes_value=False)
    assert words["timeout"] == Word("NETRA_USAGE_TIMEOUT", is_variable=True)


# -- 11: one rule of names and formats, for the CLI, write_frame and Report.write ----------

NAMES: list[tuple[str, str | None, str | None]] = [
    ("x.parquet", "csv", None),  # the name says parquet: refused, never CSV in x.parquet
    ("x.csv", "table", None),  # a table is never a file, whatever the name
    ("x.csv", "csv", "csv"),
    ("x.CSV", None, "csv"),
    ("x.pq", "parquet", "parquet"),
    ("x.txt", None, None),  # a name that says no format needs one
    ("x.txt", "tsv", "tsv"),
    ("x", None, "csv"),
    ("x", "ndjson", "ndjson"),
]
"""A file name, the format asked for (``None``: none) and the format written (``None``:
refused before anything is written)."""


def read_as(fmt: str, path: Path) -> pl.DataFrame:
    if fmt in ("csv", "tsv"):
        return pl.read_csv(path, separator="," if fmt == "csv" else "\t", infer_schema=False)
    return pl.read_parquet(path) if fmt == "parquet" else pl.read_ndjson(path)


@pytest.mark.parametrize(("name", "fmt", "written"), NAMES)
def test_write_frame_follows_the_rule(
    tmp_path: Path, name: str, fmt: str | None, written: str | None
) -> None:
    frame = pl.DataFrame({"trace_id": ["a", "b"], "total_cost": [0.5, 1.5]})
    target = tmp_path / name
    if written is None:
        with pytest.raises(nf.InvalidParameterError, match="format="):
            nf.write_frame(frame, target, format=fmt)  # type: ignore[arg-type]
        assert list(tmp_path.iterdir()) == []
        return
    assert nf.write_frame(frame, target, format=fmt) == target  # type: ignore[arg-type]
    assert read_as(written, target)["trace_id"].to_list() == ["a", "b"]


@pytest.mark.parametrize(("name", "fmt", "written"), NAMES)
def test_the_command_line_follows_the_same_rule(
    server: LocalNetra, window: Window, tmp_path: Path, name: str, fmt: str | None,
    written: str | None,
) -> None:  # fmt: skip
    argv = ["traces", *span(window), "--limit", "3", "-o", name, "--no-progress"]
    server.reset_stats()
    proc = cli(*argv, *(["--format", fmt] if fmt else []), server=server, cwd=tmp_path,
               code=2 if written is None else 0)  # fmt: skip
    if written is None:
        assert_one_line_error(proc, "--format")
        assert "format=" not in proc.stderr.decode()
        assert server.stats.requests == 0 and list(tmp_path.iterdir()) == []
        return
    assert read_as(written, tmp_path / name).height == 3


@pytest.mark.parametrize("command", [["spans", "0" * 32], ["usage", "tenant", "AceTech"]])
def test_spans_and_usage_follow_the_same_rule(
    server: LocalNetra, window: Window, tmp_path: Path, command: list[str]
) -> None:
    server.reset_stats()
    refused = cli(*command, "--format", "csv", "-o", "x.parquet", server=server, cwd=tmp_path,
                  code=2)  # fmt: skip
    assert_one_line_error(refused, "'x.parquet' is named as parquet but --format 'csv'")
    assert server.stats.requests == 0 and list(tmp_path.iterdir()) == []
    if command[0] == "usage":  # (the spans of an unknown trace are a 404: nothing to write)
        cli(*command, *span(window), "-o", "x.pq", server=server, cwd=tmp_path)
        assert pl.read_parquet(tmp_path / "x.pq")["tenant_id"].to_list() == ["AceTech"]


@pytest.fixture(scope="module")
def small_report(client: nf.NetraClient, window: Window) -> nf.Report:
    day = (window[1] - timedelta(days=1), window[1])
    return nf.report(*day, tenant_id="AceTech", progress=False, client=client)


@pytest.mark.parametrize("name", ["r.pdf", "r.txt", "r.html.gz"])
def test_a_report_named_otherwise_is_refused_in_python_and_on_the_command_line(
    server: LocalNetra, small_report: nf.Report, tmp_path: Path, name: str
) -> None:
    with pytest.raises(
        nf.InvalidParameterError, match=r"the file is html; name it \.html or \.htm"
    ):
        small_report.write(tmp_path / name)
    server.reset_stats()
    proc = cli("report", "-o", name, server=server, cwd=tmp_path, code=2)
    assert_one_line_error(proc, f"'{name}' is named", "name it .html or .htm")
    assert server.stats.requests == 0 and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["r.html", "r.HTM", "r"])
def test_a_report_named_html_or_without_extension_is_written(
    small_report: nf.Report, tmp_path: Path, name: str
) -> None:
    assert small_report.write(tmp_path / name).read_text(encoding="utf-8").startswith("<!DOCTYPE")


# -- 12: an output that cannot be written is refused before any request --------------------

UNWRITABLE = Path("/proc/netra-frames-test")
"""A folder no one can make a file in, root included (``os.access`` says yes to root)."""


@pytest.mark.skipif(not Path("/proc/self").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["traces", "-o", f"{UNWRITABLE}/t.csv"], "--output"),
        (["traces", "--start", "2025-12-01", "-o", f"{UNWRITABLE}.csv", "--keep-partial"],
         "--output"),
        (["spans", "0" * 32, "-o", f"{UNWRITABLE}.parquet"], "--output"),
        (["usage", "tenant", "AceTech", "-o", f"{UNWRITABLE}.json"], "--output"),
        (["export", f"{UNWRITABLE}/jan"], "PATH"),
        (["report", "-o", f"{UNWRITABLE}.html"], "--output"),
        (["demo", "--out", f"{UNWRITABLE}/demo"], "--out"),
    ],
    ids=lambda v: v[0] if isinstance(v, list) else None,
)  # fmt: skip
def test_an_unwritable_output_is_one_line_and_exit_2_before_any_request(
    server: LocalNetra, argv: list[str], flag: str
) -> None:
    server.reset_stats()
    proc = cli(*argv, server=server, code=2)
    assert_one_line_error(proc, f"{flag} '{UNWRITABLE}", "cannot write in the folder '/proc'")
    assert server.stats.requests == 0


# -- 18, 21: every command and every file of the demo is named where users look -----------

DOCS = Path(nf.__file__).resolve().parents[1] / "docs"


def section(page: str, title: str) -> str:
    """The text of ``## title`` in ``docs/page`` (up to the next ``##``)."""
    text = (DOCS / page).read_text(encoding="utf-8")
    return text.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_index_lists_every_command() -> None:
    text = (DOCS / "index.md").read_text(encoding="utf-8")
    (listed,) = re.findall(r"`netra-frames ([a-z]+(?: \| [a-z]+)+)`", text)
    assert sorted(listed.split(" | ")) == sorted(COMMANDS)


def test_a_misspelt_command_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["reprot"])
    err = capsys.readouterr().err
    assert f"(choose from {', '.join(repr(c) for c in COMMANDS)})" in err
    assert "(did you mean report?)" in err


@pytest.mark.parametrize("name", FILES)
def test_every_file_of_the_demo_is_named_in_its_help_and_docs(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert name in " ".join(capsys.readouterr().out.split())
    assert name in section("cli.md", "`netra-frames demo`")
    assert f"| `{name}` |" in (DOCS / "quickstart.md").read_text(encoding="utf-8")
    assert f"`{name}`" in (DOCS.parent / "README.md").read_text(encoding="utf-8")


def test_the_demo_says_its_traces_are_every_tenants(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    helped = " ".join(capsys.readouterr().out.split())
    assert "--traces N synthetic traces on the embedded server, every tenant's" in helped
    assert "the demo drains AceTech's share of them" in helped


# -- 19: the exit status of a signal, as the table says: 130, but serve's 0 ---------------


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_download_stopped_by_a_signal_exits_130_and_writes_nothing(
    server: LocalNetra, window: Window, tmp_path: Path, sig: signal.Signals
) -> None:
    server.set_faults(latency_ms=60_000)  # every request hangs until the client gives up
    server.reset_stats()
    target = tmp_path / "t.csv"
    proc = subprocess.Popen(
        [sys.executable, "-m", "netra_frames", "traces", *span(window), "-o", str(target),
         "--no-progress"],
        env=clean_env(server), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while server.stats.connections_opened == 0 and time.monotonic() < deadline:
            time.sleep(0.05)  # until the download is under way
        assert server.stats.connections_opened > 0
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=30)
    assert proc.returncode == 130, err.decode()
    assert err.decode() == "netra-frames: interrupted\n"
    assert list(tmp_path.iterdir()) == []


def test_the_exit_status_table_says_what_serve_does() -> None:
    """The table promises 130 for a signal, and 0 for ``serve`` (tests/cli/test_cli_serve.py
    checks serve's 0; the test above a download's 130)."""
    text = (DOCS / "cli.md").read_text(encoding="utf-8")
    rows = dict(re.findall(r"^\| (\d+) \| (.*) \|$", text, re.M))
    assert "`serve` stopped by Ctrl-C, SIGINT or SIGTERM" in rows["0"]
    assert "every command but `serve`, which exits 0" in rows["130"]


# -- 20: the re-run message of an export names what to delete, in its layout ---------------


@pytest.mark.parametrize("layout", ["date", "none"])
def test_an_export_rerun_says_what_to_delete_and_deleting_it_works(
    server: LocalNetra, window: Window, tmp_path: Path, layout: str
) -> None:
    root = tmp_path / "out"
    days = ["--start", (window[1] - timedelta(days=2)).isoformat(), "--end", window[1].isoformat()]
    argv = ["export", str(root), *days, "--partition-by", layout, "--no-progress"]
    cli(*argv, server=server)
    again = cli(*argv, server=server).stderr.decode()
    if layout == "none":
        assert again == (
            f"nothing to export: the window was already complete in {root} "
            f"(delete {root / '_SUCCESS'} to write it again)\n"
        )
        (root / "_SUCCESS").unlink()
    else:
        assert again == (
            f"nothing to export: all 2 partitions of the window were already complete in "
            f"{root} (delete a date=... folder to write it again)\n"
        )
        shutil.rmtree(next(root.glob("date=*")))
    third = cli(*argv, server=server).stderr.decode()
    assert third.startswith("exported ") and "(1 partition written" in third, third


def test_the_words_are_checked_for_every_command() -> None:
    assert {argv[0] for argv, _, _ in WORDS} == set(COMMANDS)
