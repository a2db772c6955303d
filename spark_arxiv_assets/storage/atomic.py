"""Atomic writes: a run killed mid-write leaves the previous artifact readable.

On a local filesystem a file is written to a temporary name and renamed; in an object store a
single PUT (or a multipart upload) makes an object appear whole or not at all. A directory is
written as a new version and published by replacing a small pointer object last; replacing it is
a compare-and-swap, so a run that built on version A cannot silently overwrite version B that
another run published meanwhile."""
from __future__ import annotations

import calendar
import contextlib
import fcntl
import json
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import Callable, Iterable

from upath import UPath

from .uris import as_upath, children, is_local, local_path, upload_dir

_STALE_AFTER_S = 3600.0
CURRENT_POINTER = "CURRENT"
UPLOADED_MARKER = "_UPLOADED"  # last object of a remote version: its upload finished
UNCHECKED = object()  # `based_on` for a write that replaces whatever is current


class ConcurrentPublish(RuntimeError):
    """Another run published a version after this one read the version it builds on."""


def _remove_stale_temps(directory: Path, prefix: str) -> None:
    """Temp files of killed runs are deleted on the next write (only old ones: another
    process may be writing right now)."""
    for leftover in directory.glob(f"{prefix}*"):
        try:
            if time.time() - leftover.stat().st_mtime > _STALE_AFTER_S:
                shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        except OSError:
            pass


def _atomic_local_write(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}.tmp-"
    _remove_stale_temps(path.parent, prefix)
    tmp = path.parent / f"{prefix}{uuid.uuid4().hex}"
    try:
        write(tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def atomic_write(location: str | os.PathLike, write: Callable[[Path], None]) -> UPath:
    """Calls `write(tmp_path)` on a local temporary file and publishes it at `location` only when
    it returns."""
    target = as_upath(location)
    if is_local(target):
        _atomic_local_write(local_path(target), write)
        return target
    with tempfile.TemporaryDirectory(prefix="spark-arxiv-upload-") as scratch:
        tmp = Path(scratch) / target.name
        write(tmp)
        target.fs.put_file(str(tmp), target.path)
    return target


def _new_version_id() -> str:
    now = time.time_ns()  # sortable: pruning keeps the newest
    return f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(now / 1e9))}.{now % 10**9:09d}-{uuid.uuid4().hex[:6]}"


def _version_age_s(version_id: str) -> float:
    try:
        return time.time() - calendar.timegm(time.strptime(version_id[:15], "%Y%m%dT%H%M%S"))
    except ValueError:
        return 0.0


class VersionedDir:
    """A directory artifact stored as `versions/<id>/` plus a `CURRENT` pointer, at any URI.

    A new version is built completely, then the pointer is replaced, so readers (the chat app,
    the next incremental run) always see a whole version; they can also watch the pointer to
    hot-reload. A version left half-uploaded by a killed run is never pointed to and is pruned.
    """

    def __init__(self, root: str | os.PathLike, keep: int = 2) -> None:
        self.root, self.keep = as_upath(root), keep

    def current_version_id(self) -> str | None:
        pointer = self.root / CURRENT_POINTER
        try:
            return json.loads(pointer.read_text())["version"]
        except FileNotFoundError:
            return None

    def current(self) -> UPath | None:
        return self.version(self.current_version_id())

    def version(self, version_id: str | None) -> UPath | None:
        """A whole version's folder (None for no version, or one that is gone)."""
        if version_id is None:
            return None
        version = self.root / "versions" / version_id
        return version if any(children(version)) else None

    def write(self, build: Callable[[Path], None], based_on: str | None | object = UNCHECKED,
              protect: Iterable[str] = ()) -> UPath:
        """`build(folder)` fills a local folder; it becomes the new current version, provided the
        current version is still `based_on` (None: there was none) when it is published; else the
        new version is deleted and `ConcurrentPublish` raised. Pruning spares the `protect`ed
        versions (one still served, say) beside the newest `keep`."""
        version_id = _new_version_id()
        final = self.root / "versions" / version_id
        if is_local(self.root):
            versions = local_path(self.root) / "versions"
            versions.mkdir(parents=True, exist_ok=True)
            _remove_stale_temps(versions, ".building-")
            staging = versions / f".building-{version_id}"
            staging.mkdir()
            try:
                build(staging)
                os.replace(staging, local_path(final))
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
        else:
            with tempfile.TemporaryDirectory(prefix="spark-arxiv-version-") as staging:
                build(Path(staging))
                upload_dir(Path(staging), final)
            (final / UPLOADED_MARKER).write_bytes(b"")
        try:
            self._publish(version_id, based_on)
        except ConcurrentPublish:
            self._delete(final)
            raise
        if is_local(self.root):
            self._point_link(version_id)
        self._prune(keep_ids={version_id, *protect})
        return final

    def _publish(self, version_id: str, based_on: str | None | object) -> None:
        """Replaces the pointer if it still names `based_on`: under a lock file on a local disk,
        with a conditional PUT (If-Match / If-None-Match) in S3; elsewhere check-then-write."""
        pointer = self.root / CURRENT_POINTER
        body = json.dumps({"version": version_id})
        if based_on is UNCHECKED:
            atomic_write(pointer, lambda tmp: tmp.write_text(body))
            return
        if is_local(self.root):
            with _locked(local_path(self.root) / ".publish.lock"):
                self._check_current(based_on)
                atomic_write(pointer, lambda tmp: tmp.write_text(body))
            return
        if pointer.protocol not in ("s3", "s3a"):
            self._check_current(based_on)
            atomic_write(pointer, lambda tmp: tmp.write_text(body))
            return
        pointer.fs.invalidate_cache(pointer.path)
        etag = pointer.fs.info(pointer.path).get("ETag") if pointer.exists() else None
        self._check_current(based_on)
        condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
        try:
            pointer.fs.pipe_file(pointer.path, body.encode(), **condition)
        except (OSError, FileExistsError) as exc:
            if "pre-condition" not in str(exc) and "precondition" not in str(exc).lower():
                raise
            raise ConcurrentPublish(f"{self.root}: another run published while this one did ({exc})") from None

    def _check_current(self, based_on: str | None) -> None:
        if not is_local(self.root):
            (self.root / CURRENT_POINTER).fs.invalidate_cache((self.root / CURRENT_POINTER).path)
        current = self.current_version_id()
        if current != based_on:
            raise ConcurrentPublish(f"{self.root}: version {current} was published by another run after this run "
                                    f"read {based_on or 'no version'}; materialize again to build on it")

    def _delete(self, version: UPath) -> None:
        if is_local(version):
            shutil.rmtree(local_path(version), ignore_errors=True)
        else:
            version.fs.rm(version.path, recursive=True)

    def _point_link(self, version_id: str) -> None:
        """`<root>/current` → the newest version, so tools can open a plain path
        (e.g. `PeftModel.from_pretrained("data/models/final_adapter/current")`)."""
        root = local_path(self.root)
        tmp = root / f".current-{uuid.uuid4().hex}"
        os.symlink(Path("versions") / version_id, tmp)
        os.replace(tmp, root / "current")

    def _prune(self, keep_ids: set[str]) -> None:
        """Keeps the newest `keep` whole versions. In an object store a version without its upload
        marker is a killed (or a concurrent) upload: removed only once it is stale."""
        versions = self.root / "versions"
        names = sorted(p.name for p in children(versions) if not p.name.startswith("."))
        if is_local(self.root):
            whole, stale = names, []
        else:
            whole = [n for n in names if (versions / n / UPLOADED_MARKER).exists()]
            stale = [n for n in names if n not in whole and _version_age_s(n) > _STALE_AFTER_S]
        for old in whole[: max(0, len(whole) - self.keep)] + stale:
            if old not in keep_ids:
                self._delete(versions / old)


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive lock between processes on one machine (held for milliseconds)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
