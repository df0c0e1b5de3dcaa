"""Text files of the data sets, kept plain (``NAME``) or gzip-packed (``NAME.gz``).

The FEFF10 data sets in the repository hold tens of thousands of small text files (spectra,
structures, FEFF's records); gzip packs them 2–4 fold, and ``zcat`` or ``gzip -dk`` gives each back
byte for byte. Readers take either form through :func:`find` and :func:`read_text`.
"""

from __future__ import annotations

import gzip
import os
import shutil
from pathlib import Path

GZ = ".gz"


def find(path: str | os.PathLike) -> Path | None:
    """``path`` if it is a file, else ``path.gz`` if that is one, else None."""
    path = Path(path)
    for candidate in (path, path.with_name(path.name + GZ)):
        if candidate.is_file():
            return candidate
    return None


def exists(path: str | os.PathLike) -> bool:
    """Whether ``path`` or its packed form ``path.gz`` is a file."""
    return find(path) is not None


def _open(path: Path, mode: str, **kwargs):
    """``open``, or ``gzip.open`` when the name ends in ``.gz``."""
    return (gzip.open if path.name.endswith(GZ) else open)(path, mode, **kwargs)


def read_text(path: str | os.PathLike, errors: str = "strict") -> str:
    """The text of ``path`` (UTF-8), unpacked when its name ends in ``.gz``."""
    with _open(Path(path), "rt", encoding="utf-8", errors=errors) as handle:
        return handle.read()


def stems(folder: str | os.PathLike, suffix: str) -> set[str]:
    """Names in ``folder`` ending in ``suffix`` or ``suffix.gz``, without either ending."""
    folder = Path(folder)
    names = set()
    for ending in (suffix, suffix + GZ):
        names |= {p.name[: -len(ending)] for p in folder.glob(f"*{ending}") if p.is_file() and not p.name.startswith(".")}
    return names


def pack(path: str | os.PathLike) -> Path:
    """Replace the file ``path`` by ``path.gz`` (gzip without a timestamp, so the same file always
    packs to the same bytes; written beside it and renamed, so a killed run leaves no half file)."""
    plain = Path(path)
    packed, part = plain.with_name(plain.name + GZ), plain.with_name(f".{plain.name}{GZ}.part")
    with open(plain, "rb") as source, open(part, "wb") as raw:
        with gzip.GzipFile(filename=plain.name, mode="wb", fileobj=raw, mtime=0) as target:
            shutil.copyfileobj(source, target)
    part.replace(packed)
    plain.unlink()
    return packed


def copy_unpacked(source: str | os.PathLike, target: str | os.PathLike) -> bool:
    """Copy ``source`` (or its packed form ``source.gz``, unpacked) to ``target``; False if neither exists."""
    found = find(source)
    if found is None:
        return False
    with _open(found, "rb") as origin, open(target, "wb") as copy:
        shutil.copyfileobj(origin, copy)
    return True
