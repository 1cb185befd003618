"""Files that are never half-written, and their content hashes.

`write_atomic` and `copy_atomic` write to a temporary file beside the target, flush it to disk, then
rename it into place: a reader sees the old bytes or the new ones, and a crash leaves no partial file
(and no temporary file behind, when Python gets to unwind).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

CHUNK = 1 << 20


@contextmanager
def _replacing(target: Path) -> Iterator[BinaryIO]:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_atomic(target: Path, data: bytes | str) -> Path:
    """Write `data` (str as UTF-8) to `target` atomically; creates the parent directories."""
    with _replacing(target) as out:
        out.write(data.encode("utf-8") if isinstance(data, str) else data)
    return target


def write_chunks_atomic(target: Path, chunks: Iterable[bytes]) -> Path:
    """Write a stream of byte chunks (a download) to `target` atomically."""
    with _replacing(target) as out:
        for chunk in chunks:
            out.write(chunk)
    return target


def copy_atomic(source: Path, target: Path) -> Path:
    """Copy `source` to `target` atomically."""
    with _replacing(target) as out, source.open("rb") as src:
        shutil.copyfileobj(src, out, CHUNK)
    return target


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file's bytes, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


def directory_sha256(root: Path, ignore: frozenset[str] = frozenset()) -> str:
    """Content hash of a directory: sha256 over sorted (relative path, file sha256) pairs; files whose
    name is in `ignore` are left out."""
    outer = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name not in ignore):
        outer.update(path.relative_to(root).as_posix().encode() + b"\0" + file_sha256(path).encode() + b"\n")
    return outer.hexdigest()
