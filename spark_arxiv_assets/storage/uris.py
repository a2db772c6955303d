"""Locations as URIs (a local folder, `file://…`, `s3://bucket/prefix`, any fsspec protocol) through
universal-pathlib. Dagster-free: Spark tasks on other hosts import it too."""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Iterator

from upath import UPath

LOCAL_PROTOCOLS = ("", "file", "local")


def as_upath(location: str | os.PathLike) -> UPath:
    return location if isinstance(location, UPath) else UPath(location)


def is_local(location: str | os.PathLike) -> bool:
    return as_upath(location).protocol in LOCAL_PROTOCOLS


def local_path(location: str | os.PathLike) -> Path:
    """The filesystem path of a local location (`file://` URIs included)."""
    return Path(as_upath(location).path)


def children(folder: str | os.PathLike) -> list[UPath]:
    """What is in `folder` now ([] if nothing). fsspec caches object-store listings per process,
    and Spark tasks and other runs write here too, so the store is asked again."""
    folder = as_upath(folder)
    if not is_local(folder):
        folder.fs.invalidate_cache(folder.path)
    return list(folder.iterdir()) if folder.exists() else []


def relative_name(path: str | os.PathLike, root: str | os.PathLike) -> str:
    """`path` under `root`, as a manifest records it (valid wherever the root is moved or copied)."""
    full, base = as_upath(path).path.rstrip("/"), as_upath(root).path.rstrip("/")
    if not full.startswith(base + "/"):
        raise ValueError(f"{path} is not under {root}")
    return full[len(base) + 1:]


def upload_dir(local: Path, target: UPath) -> None:
    """Every file under `local` to the same relative key under `target` (object stores have no rename,
    so a directory is published by its pointer, not by moving it)."""
    for file in sorted(p for p in local.rglob("*") if p.is_file()):
        target.fs.put_file(str(file), f"{target.path}/{file.relative_to(local).as_posix()}")


def local_copy(location: str | os.PathLike, cache_root: Path) -> Path:
    """A filesystem path to an immutable remote directory (an index or adapter version), downloaded once
    into `cache_root`; a local directory is returned as it is."""
    source = as_upath(location)
    if is_local(source):
        return local_path(source)
    target = cache_root / hashlib.sha256(str(source).encode()).hexdigest()[:24]
    if target.is_dir():
        return target
    staging = cache_root / f".download-{uuid.uuid4().hex}"
    try:
        for remote in source.fs.find(source.path):
            dest = staging / relative_name(remote, source.path)
            dest.parent.mkdir(parents=True, exist_ok=True)
            source.fs.get_file(remote, str(dest))
        staging.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(staging, target)
        except OSError:  # another process published the same version first
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


@contextlib.contextmanager
def fetched_file(location: str, scratch: Path | None = None) -> Iterator[str]:
    """A local path for reading `location` (a PDF) that may live in an object store; a download is
    deleted afterwards. A file that cannot be fetched yields its URI, for the reader to report."""
    if not isinstance(location, str):  # not a location at all: the reader reports it as our bug
        yield location
        return
    if is_local(location):
        yield str(local_path(location))
        return
    source = as_upath(location)
    handle, tmp = tempfile.mkstemp(prefix="fetched-", suffix=Path(source.path).suffix, dir=scratch)
    os.close(handle)
    try:
        try:
            source.fs.get_file(source.path, tmp)
        except (OSError, ValueError):
            yield location
            return
        yield tmp
    finally:
        os.unlink(tmp)
