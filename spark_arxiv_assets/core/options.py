"""Options dataclasses built from a run's config by field name, so each default is written once (in
the dataclass; the Dagster Config classes point at it) and reordering a field cannot pass a value to
the wrong one."""
from __future__ import annotations

from dataclasses import fields
from typing import TypeVar

T = TypeVar("T")


def options_from(cls: type[T], config: object, **renamed: str) -> T:
    """`cls` with every field that `config` has (under the same name, or under `renamed[field]`);
    fields the config does not have keep the dataclass's default."""
    values = {}
    for field in fields(cls):
        name = renamed.get(field.name, field.name)
        if hasattr(config, name):
            values[field.name] = getattr(config, name)
    return cls(**values)
