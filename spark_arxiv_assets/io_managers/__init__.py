"""Dagster IO managers: each stores one kind of asset through `storage/` (atomic writes, versioned folders)."""
