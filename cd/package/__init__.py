"""Packaging: a SageMaker-ready Bento from a registry model version.

The library API (see docs/packaging.md):
- `build_bento(repo_root, spec, version, ...) -> BuildRecord`: import, build, export, record (and
  containerize + push where Docker runs);
- `serve_command(bento, port, ...) -> ServeCommand`: how to start `bentoml serve` for a built Bento;
- `entrypoint_command(bento_dir, ...)`, `unpack_bento(archive, dest)`: run an exported Bento the way
  its container does;
- `BuildRecord`, `read_record`, `write_record`.

Nothing here imports BentoML, MLflow, pandas or boto3 at import time.
"""

from __future__ import annotations

from cd.package.bento import ServeCommand, entrypoint_command, serve_command, unpack_bento
from cd.package.build import build_bento, default_bentoml_home
from cd.package.record import BuildRecord, read_record, write_record

__all__ = [
    "BuildRecord",
    "ServeCommand",
    "build_bento",
    "default_bentoml_home",
    "entrypoint_command",
    "read_record",
    "serve_command",
    "unpack_bento",
    "write_record",
]
