"""The ``netra-frames`` command: parse, call the library, print; one error boundary.

Exit codes: 0 success; 1 a failed request, drain or file; 2 bad usage or configuration
(any bad flag, value, setting or environment variable); 130 interrupted (``serve``, which
runs until stopped, exits 0). Data goes to
stdout or ``--output``; progress and errors to stderr.

Modules: :mod:`._main` (entry, parser, error boundary), :mod:`._parser` (one-line errors,
"did you mean", commands loaded when chosen), :mod:`._options` (each option group
declared once), :mod:`._output` (where a frame goes, checked before any request), and one
module per job: :mod:`.data` (traces, spans, usage, export), :mod:`.serve`,
:mod:`.cache`, :mod:`.demo`.
"""

from __future__ import annotations

from ._main import build_parser, main
from ._parser import UsageError

__all__ = ["UsageError", "build_parser", "main"]
