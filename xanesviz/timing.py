"""Start-up timing marks for ``benchmarks/cold_start.py``.

With ``XANESVIZ_TIMING=FILE`` in the environment, ``mark(label)`` appends one JSON line
(label, wall-clock time, process id) to FILE, the first time each label is reached in a
process; without it, ``mark`` does nothing. Standard library only, so it can be imported
before anything heavy.
"""

from __future__ import annotations

import json
import os
import time

_seen: set[str] = set()


def mark(label: str) -> None:
    """Record that this process reached ``label`` now (once per label; only with XANESVIZ_TIMING)."""
    path = os.environ.get("XANESVIZ_TIMING")
    if not path or label in _seen:
        return
    _seen.add(label)
    line = json.dumps({"mark": label, "t": time.time(), "pid": os.getpid()})
    with open(path, "a", encoding="utf-8") as out:
        out.write(line + "\n")
