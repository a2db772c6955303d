"""Atomic writes: a run killed mid-write leaves the previous artifact readable."""
from __future__ import annotations

import json
import os
import shutil
import time
import uuid
from pathlib import Path
from typing import Callable

_STALE_AFTER_S = 3600.0
CURRENT_POINTER = "CURRENT"


def _remove_stale_temps(directory: Path, prefix: str) -> None:
    """Temp files of killed runs are deleted on the next write (only old ones: another
    process may be writing right now)."""
    for leftover in directory.glob(f"{prefix}*"):
        try:
            if time.time() - leftover.stat().st_mtime > _STALE_AFTER_S:
                shutil.rmtree(leftover) if leftover.is_dir() else leftover.unlink()
        except OSError:
            pass


def atomic_write(path: Path, write: Callable[[Path], None]) -> Path:
    """Calls `write(tmp_path)` and renames the result over `path` only when it returns."""
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
    return path


class VersionedDir:
    """A directory artifact stored as `versions/<id>/` plus a `CURRENT` pointer file.

    A new version is built completely, then the pointer is replaced atomically, so readers
    (the chat app, the next incremental run) always see a whole version; they can also
    watch the pointer to hot-reload.
    """

    def __init__(self, root: Path, keep: int = 2) -> None:
        self.root, self.keep = root, keep

    def current(self) -> Path | None:
        pointer = self.root / CURRENT_POINTER
        if not pointer.exists():
            return None
        version = self.root / "versions" / json.loads(pointer.read_text())["version"]
        return version if version.is_dir() else None

    def current_version_id(self) -> str | None:
        current = self.current()
        return current.name if current else None

    def write(self, build: Callable[[Path], None]) -> Path:
        versions = self.root / "versions"
        versions.mkdir(parents=True, exist_ok=True)
        _remove_stale_temps(versions, ".building-")
        now = time.time_ns()  # sortable: pruning keeps the newest
        version_id = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime(now / 1e9))}.{now % 10**9:09d}-{uuid.uuid4().hex[:6]}"
        staging = versions / f".building-{version_id}"
        staging.mkdir()
        try:
            build(staging)
            final = versions / version_id
            os.replace(staging, final)
            atomic_write(self.root / CURRENT_POINTER,
                         lambda tmp: tmp.write_text(json.dumps({"version": version_id})))
            self._point_link(version_id)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        self._prune(versions, keep_name=version_id)
        return final

    def _point_link(self, version_id: str) -> None:
        """`<root>/current` → the newest version, so tools can open a plain path
        (e.g. `PeftModel.from_pretrained("data/models/final_adapter/current")`)."""
        link = self.root / "current"
        tmp = self.root / f".current-{uuid.uuid4().hex}"
        os.symlink(Path("versions") / version_id, tmp)
        os.replace(tmp, link)

    def _prune(self, versions: Path, keep_name: str) -> None:
        done = sorted(p for p in versions.iterdir() if p.is_dir() and not p.name.startswith("."))
        for old in done[: max(0, len(done) - self.keep)]:
            if old.name != keep_name:
                shutil.rmtree(old, ignore_errors=True)
