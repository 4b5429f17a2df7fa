"""``python -m netra_frames`` is the ``netra-frames`` command."""

from __future__ import annotations

from .cli import main

raise SystemExit(main())
