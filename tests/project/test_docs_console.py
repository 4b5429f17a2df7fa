"""Every ```console block of README.md and docs/*.md prints what it shows, against the docs' server.

The sibling of ``test_docs_snippets.py`` (which runs the ```python blocks), with the same
server (``netra-frames serve --anchor 2026-02-01``: seed 0, 2000 traces, port 8765 as
shown) and the same environment (its two ``export`` lines). Each page's console blocks run
in order, in one fresh folder (a command may read a file an earlier one wrote), each
``$ command`` in ``bash`` on a terminal 100 columns wide (a pseudo-terminal: tables as a
user sees them, stdout and stderr in the order printed; no progress bars), and what it
prints must be the lines shown under it, up to the next ``$``:

* lines right-stripped; ``...`` matches anything (as in a doctest);
* what differs from run to run or machine to machine is compared as a placeholder on both
  sides: a local server's port, the folder the commands run in (shown as ``/home/you``),
  durations (``in 1.5 s``) and file sizes (``407.9 kB``, ``40,432 bytes``);
* ``netra-frames serve`` runs until its ``ready:`` line, then gets Ctrl-C (shown as ``^C``).

Marks on the line before a fence: ``<!-- console: skip (reason) -->`` does not run the block
(each skip is reported with its reason); ``<!-- console: with --fault NAME=VALUE ... -->``
runs it with those faults on the server (as ``serve --fault`` would).

Every ``netra-frames`` command shown in a ```bash or ```console block (run or not) must also
parse, or fail to parse as the page shows (``test_every_shown_command_parses``).

After a change to the messages or the data, rewrite the shown outputs with
``python tests/project/test_docs_console.py --fix [PAGE ...]`` and review the diff.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import re
import select
import shlex
import signal
import struct
import subprocess
import sys
import tempfile
import termios
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from test_docs_snippets import DOCS_ANCHOR, ENV_UNSET, PAGES, REPO, SHOWN_URL, matches

from netra_frames.cli import build_parser
from netra_frames.server import LocalNetra
from netra_frames.server.faults import FaultConfig

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")

FENCE = re.compile(
    r"^(?:<!-- console: (?P<mark>skip|with) (?P<arg>[^\n]*?) -->\n)?```console\n(?P<body>.*?)^```$",
    re.M | re.S,
)
SHOWN_HOME = "/home/you"
"""How the folder the commands run in is shown."""
COMMAND_TIMEOUT_S = 120  # generous: the machine may be busy
WIDTH = 100


@dataclass(frozen=True)
class Command:
    """One ``$ command`` of a console block and the output shown under it."""

    text: str  # continuation lines joined
    shown: str
    line: int  # line of the ``$`` in the page
    raw: str  # the command as the page spells it (with its continuation lines)

    @property
    def is_serve(self) -> bool:
        return bool(re.match(r"netra-frames serve\b", self.text))


@dataclass(frozen=True)
class Block:
    """One ```console block: its commands, its mark and the mark's argument."""

    page: Path
    line: int
    commands: tuple[Command, ...]
    start: int  # offsets of the body in the page's text
    end: int
    mark: str | None
    arg: str | None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"

    def faults(self) -> FaultConfig | None:
        """The faults of a ``with --fault NAME=VALUE ...`` mark."""
        specs = re.findall(r"--fault (\S+)", self.arg or "")
        return FaultConfig.from_specs(specs) if self.mark == "with" and specs else None


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    found = []
    for m in FENCE.finditer(text):
        first = text.count("\n", 0, m.start("body")) + 1
        found.append(
            Block(
                page,
                first,
                tuple(commands(m["body"], first)),
                m.start("body"),
                m.end("body"),
                m["mark"],
                m["arg"],
            )  # fmt: skip
        )
    return found


def commands(body: str, first_line: int) -> Iterator[Command]:
    """Split a block into ``$`` commands (with their ``\\`` continuations) and their output."""
    lines = body.rstrip("\n").split("\n")
    i = 0
    while i < len(lines):
        if not lines[i].startswith("$ "):
            raise AssertionError(f"line {first_line + i}: output before a '$ ' command")
        start, text = i, lines[i][2:]
        while text.endswith("\\"):
            i += 1
            text = text[:-1] + " " + lines[i].strip()
        i += 1
        raw = "\n".join(lines[start:i])
        shown = []
        while i < len(lines) and not lines[i].startswith("$ "):
            shown.append(lines[i])
            i += 1
        yield Command(text.strip(), "\n".join(shown), first_line + start, raw)


# -- running a command as on a terminal ---------------------------------------------------


def shims(folder: Path) -> Path:
    """``netra-frames`` and ``python`` of this interpreter, first on the PATH."""
    folder.mkdir(exist_ok=True)
    for name, argv in (("netra-frames", '-m netra_frames "$@"'), ("python", '"$@"')):
        shim = folder / name
        shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" {argv}\n')
        shim.chmod(0o755)
    return folder


def environment(srv: LocalNetra, home: Path) -> dict[str, str]:
    """A reader's shell after ``serve``'s two ``export`` lines, in ``home``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NETRA_", "OTEL_"))}
    for name in ENV_UNSET:
        env.pop(name, None)
    env.update(
        NETRA_API_KEY=srv.api_key,
        NETRA_OTLP_ENDPOINT=srv.base_url,
        PATH=os.pathsep.join([str(shims(home / ".bin")), env.get("PATH", "")]),
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
        XDG_CACHE_HOME=str(home / ".cache"),
        TQDM_DISABLE="1",  # a bar erases itself on a terminal; here it would leave its frames
        COLUMNS=str(WIDTH),
        LINES="40",
        MPLBACKEND="Agg",
    )
    return env


def run(command: Command, cwd: Path, env: dict[str, str]) -> str:
    """Run ``command`` in bash on a pseudo-terminal; return what the terminal shows."""
    main_fd, term_fd = pty.openpty()
    fcntl.ioctl(term_fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, WIDTH, 0, 0))
    proc = subprocess.Popen(
        ["bash", "-c", command.text], cwd=cwd, env=env, stdin=term_fd, stdout=term_fd,
        stderr=term_fd, start_new_session=True,
    )  # fmt: skip
    os.close(term_fd)
    out, stopped = b"", False
    deadline = time.monotonic() + COMMAND_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([main_fd], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(main_fd, 65536)
            except OSError:  # EIO: every end of the terminal is closed, the command is done
                break
            if not chunk:
                break
            out += chunk
            if command.is_serve and not stopped and re.search(rb"(^|\n)ready: .*\n", out):
                os.killpg(proc.pid, signal.SIGINT)
                out, stopped = out + b"^C\r\n", True
        else:
            raise AssertionError(f"{command.text!r} still running after {COMMAND_TIMEOUT_S}s")
        proc.wait(timeout=COMMAND_TIMEOUT_S)
    finally:
        os.close(main_fd)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return out.decode().replace("\r\n", "\n")


# -- comparing -----------------------------------------------------------------------------

PLACEHOLDERS = [
    (re.compile(r"\b(127\.0\.0\.1|localhost):\d+"), r"\1:PORT"),
    (re.compile(r"(?<=\bin )\d+(?:\.\d+)?(?= ?s\b)"), "N"),
    (re.compile(r"\b\d[\d,]*(?:\.\d+)? (?:B|kB|MB|GB|bytes)\b"), "SIZE"),
]
"""What differs from run to run: compared as a placeholder on both sides."""


def shown_as(text: str, cwd: Path) -> str:
    """The output as the docs show it: the folder as ``/home/you``, lines right-stripped."""
    text = text.replace(str(cwd.resolve()), SHOWN_HOME).replace(str(cwd), SHOWN_HOME)
    return "\n".join(line.rstrip() for line in text.rstrip().split("\n")).strip("\n")


def comparable(text: str) -> str:
    for pattern, placeholder in PLACEHOLDERS:
        text = pattern.sub(placeholder, text)
    return text


def agrees(shown: str, got: str) -> bool:
    """Whether the output ``got`` (as :func:`shown_as` shows it) is the one ``shown``."""
    stripped = "\n".join(line.rstrip() for line in shown.rstrip().split("\n")).strip("\n")
    return matches(comparable(stripped), comparable(got))


@contextlib.contextmanager
def faults_of(block: Block, srv: LocalNetra) -> Iterator[None]:
    faults = block.faults()
    if block.mark == "with" and faults is None:
        raise AssertionError(f"{block.where}: the mark says 'with --fault NAME=VALUE ...'")
    srv.set_faults(faults)
    try:
        yield
    finally:
        srv.set_faults(None)


def run_page(page: Path, srv: LocalNetra, home: Path) -> Iterator[tuple[Block, Command, str]]:
    """Run a page's console blocks in order in ``home``; yield each command and its output."""
    env = environment(srv, home)
    for block in blocks(page):
        if block.mark == "skip":
            continue
        with faults_of(block, srv):
            for command in block.commands:
                got = run(command, home, env).replace(srv.base_url, SHOWN_URL)
                yield block, command, shown_as(got, home)


# -- the tests -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def docs_server() -> Iterator[LocalNetra]:
    """The data of ``netra-frames serve --anchor 2026-02-01``."""
    with LocalNetra(seed=0, anchor=DOCS_ANCHOR) as srv:
        yield srv
        assert srv.errors == []


PAGES_WITH_CONSOLE = [p for p in PAGES if blocks(p)]


@pytest.mark.slow
@pytest.mark.timeout(900)
@pytest.mark.parametrize("page", PAGES_WITH_CONSOLE, ids=lambda p: p.name)
def test_every_console_block_prints_what_it_shows(
    page: Path, docs_server: LocalNetra, tmp_path: Path
) -> None:
    differing = [
        f"{page.relative_to(REPO)}:{command.line}: $ {command.text}\n--- shown:\n"
        f"{command.shown}\n--- got:\n{got}\n"
        for _, command, got in run_page(page, docs_server, tmp_path)
        if not agrees(command.shown, got)
    ]
    assert not differing, (
        "\n".join(differing) + "\n(rewrite with: python tests/project/test_docs_console.py --fix)"
    )


def test_skipped_blocks_are_reported() -> None:
    """Blocks marked skip are listed with their reason (``-ra`` shows them)."""
    skipped = [b for p in PAGES for b in blocks(p) if b.mark == "skip"]
    for block in skipped:
        assert block.arg and block.arg.startswith("(") and block.arg.endswith(")"), block.where
    if skipped:
        pytest.skip("; ".join(f"{b.where} not run: {b.arg}" for b in skipped))


def test_marks_sit_on_console_fences() -> None:
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        assert text.count("<!-- console:") == sum(b.mark is not None for b in blocks(page)), (
            f"{page.name}: a '<!-- console: ... -->' mark not right before a ```console fence"
        )
        assert len(blocks(page)) == len(re.findall(r"^```console$", text, re.M)), page.name


def test_the_comparison_can_fail() -> None:
    assert agrees("wrote 3 rows to /home/you/t.csv", "wrote 3 rows to /home/you/t.csv")
    assert not agrees("wrote 3 rows to t.csv", "wrote 4 rows to t.csv")
    assert agrees("data ready in 0.1s", "data ready in 12.5s")
    assert agrees("size          407.9 kB in 65 files", "size          1.2 MB in 65 files")
    assert not agrees("size          407.9 kB in 65 files", "size          1.2 MB in 66 files")
    assert agrees(f"at {SHOWN_URL}/sdk", "at http://127.0.0.1:40123/sdk")


def shell_commands(page: Path) -> Iterator[tuple[list[str], str]]:
    """Each ``netra-frames ...`` command of a page's shell blocks, and the line shown after it.

    In ```bash blocks every line is a command (``\\`` continues it); in ```console blocks,
    each ``$`` command. A pipeline or list gives each of its ``netra-frames`` commands.
    """
    text = page.read_text(encoding="utf-8")
    lines = [
        (line, "")
        for block in re.findall(r"^```bash\n(.*?)^```$", text, re.M | re.S)
        for line in block.replace("\\\n", " ").split("\n")
    ]
    lines += [(c.text, c.shown.split("\n")[0]) for b in blocks(page) for c in b.commands]
    for line, after in lines:
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        command: list[str] = []
        for word in [*lexer, ";"]:
            if word not in ("|", "||", "&&", ";", "&", ">", "<"):
                command.append(word)
                continue
            while command and re.fullmatch(r"[A-Z_]+=\S*", command[0]):
                command.pop(0)  # VAR=value before the command
            if command[:1] == ["netra-frames"]:
                yield command[1:], after
            command = []


PARSE_ERROR = re.compile(r": error: (argument |unrecognized arguments: )")
"""What argparse says of a command it cannot parse (an error a page shows on purpose)."""


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_shown_command_parses(page: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Every ``netra-frames`` command shown exists with those options (or fails as shown),
    including those of blocks not run."""
    parser = build_parser()
    for args, after in shell_commands(page):
        if PARSE_ERROR.search(after):  # the page shows this usage error on purpose
            with pytest.raises(SystemExit):
                parser.parse_args(args)
        else:
            try:
                parser.parse_args(args)
            except SystemExit:
                pytest.fail(f"{page.name}: netra-frames {shlex.join(args)}: {capsys.readouterr()}")


def test_commands_are_found() -> None:
    found = [args[0] for page in PAGES for args, _ in shell_commands(page)]
    assert {"traces", "spans", "usage", "export", "report", "cache", "serve", "demo"} <= set(found)


# -- rewriting the shown outputs -----------------------------------------------------------


def fix_page(page: Path, srv: LocalNetra, home: Path) -> bool:
    """Rewrite the outputs shown in a page's console blocks; return whether any changed."""
    text = page.read_text(encoding="utf-8")
    bodies: dict[int, list[str]] = {}
    for block, command, got in run_page(page, srv, home):
        output = command.shown if agrees(command.shown, got) else got
        bodies.setdefault(block.start, []).append(command.raw + ("\n" + output if output else ""))
    new = text
    for block in reversed(blocks(page)):
        if block.start in bodies:
            new = new[: block.start] + "\n".join(bodies[block.start]) + "\n" + new[block.end :]
    if new != text:
        page.write_text(new, encoding="utf-8")
    return new != text


def main(argv: list[str]) -> int:
    """``--fix [PAGE ...]``: rewrite the console outputs shown in the docs (every page)."""
    if argv[:1] != ["--fix"]:
        print("usage: python tests/project/test_docs_console.py --fix [PAGE ...]", file=sys.stderr)
        return 2
    pages = [Path(p).resolve() for p in argv[1:]] or PAGES_WITH_CONSOLE
    with LocalNetra(seed=0, anchor=DOCS_ANCHOR) as srv, tempfile.TemporaryDirectory() as tmp:
        for page in pages:
            home = Path(tmp) / page.stem
            home.mkdir()
            changed = fix_page(page, srv, home)
            print(f"{page.relative_to(REPO)}: {'rewritten' if changed else 'unchanged'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
