"""Adapters as versioned folders at a store's root, and which one the chat serves (`served.json`,
written by the evaluation's promotion decision)."""
from __future__ import annotations

import json
from pathlib import Path

from upath import UPath

from ..settings import local_cache_dir
from .atomic import VersionedDir, atomic_write
from .uris import as_upath, local_copy


def adapter_root(base_uri: str) -> UPath:
    return as_upath(base_uri) / "models" / "final_adapter"


LINEAGE_FILE = "lineage.json"  # written by the training asset: what it was trained on, what it replaces
SERVED_FILE = "served.json"  # written by the evaluation: the adapter version the chat serves, and why


def latest_adapter(base_uri: str) -> Path | None:
    """A local path to the current adapter (downloaded once if the store is remote), or None."""
    current = VersionedDir(adapter_root(base_uri)).current()
    return local_copy(current, local_cache_dir()) if current else None


def current_adapter_version(base_uri: str) -> str | None:
    return VersionedDir(adapter_root(base_uri)).current_version_id()


def served_decision(base_uri: str) -> dict | None:
    """The last promotion decision ({"served": version | None, "decision": {...}}), or None when no
    evaluation has decided yet."""
    try:
        return json.loads((adapter_root(base_uri) / SERVED_FILE).read_text())
    except FileNotFoundError:
        return None


def served_adapter_version(base_uri: str) -> str | None:
    """The adapter version promoted to be served; None means the base model."""
    return (served_decision(base_uri) or {}).get("served")


def served_adapter(base_uri: str) -> Path | None:
    """A local path to the served adapter, or None (the base model: no adapter promoted yet)."""
    version = VersionedDir(adapter_root(base_uri)).version(served_adapter_version(base_uri))
    return local_copy(version, local_cache_dir()) if version else None


def record_served(base_uri: str, served: str | None, decision: dict) -> None:
    """Publishes the decision; the chat reloads when the served version changes."""
    body = json.dumps({"served": served, "decision": decision}, indent=1)
    atomic_write(adapter_root(base_uri) / SERVED_FILE, lambda tmp: tmp.write_text(body))


def adapter_lineage(adapter_dir: Path) -> dict:
    """The adapter's `lineage.json` ({} for adapters trained before it was written)."""
    path = Path(adapter_dir) / LINEAGE_FILE
    return json.loads(path.read_text()) if path.exists() else {}
