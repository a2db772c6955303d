"""docs/configuration.md, generated from the code: every asset's Config and every resource, each field
with its type, default and the comment written beside it (or beside the core option it sets), so the
reference cannot drift from the defaults. `make docs` rewrites it; a test fails when it is stale.

    python -m spark_arxiv_assets.config_reference            # rewrite docs/configuration.md
"""
from __future__ import annotations

import ast
import inspect
import io
import json
import sys
import tokenize
import types
import typing
from pathlib import Path

TARGET = Path(__file__).resolve().parent.parent / "docs" / "configuration.md"
HEADER = """# Configuration

[← README](../README.md)

Generated from the code by `python -m spark_arxiv_assets.config_reference` (checked by a test): every
setting with its default. Assets take theirs as run config (the launchpad, or `ops: {<asset>: {config:
...}}` in a YAML file for `arxiv-assets demo -c`); resources under `resources: {<key>: {config: ...}}`.
Environment variables are in the [README](../README.md#configuration).
"""


def _comments(cls: type) -> dict[str, str]:
    """field → the comment at the end of its line in the class body."""
    source = inspect.getsource(cls)
    by_line = {token.start[0]: token.string.lstrip("# ").strip()
               for token in tokenize.generate_tokens(io.StringIO(source).readline) if token.type == tokenize.COMMENT}
    [class_def] = ast.parse(source).body
    found = {}
    for node in class_def.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            comment = by_line.get(node.end_lineno, "")
            if not comment and isinstance(node.value, ast.Attribute) and isinstance(node.value.value, ast.Name):
                source_cls = sys.modules[cls.__module__].__dict__.get(node.value.value.id)  # `= Options.field`
                comment = _comments(source_cls).get(node.value.attr, "") if inspect.isclass(source_cls) else ""
            found[node.target.id] = comment.replace("type: ignore[valid-type]", "").strip(" #")
    return found


def _type_name(annotation) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(f"`{value}`" for value in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(arg) for arg in typing.get_args(annotation))
    if origin is not None:
        return str(annotation).replace("typing.", "")
    return "None" if annotation is type(None) else annotation.__name__


def _default(value) -> str:
    return f"`{value}`" if isinstance(value, str) else f"`{json.dumps(value)}`"


def field_rows(cls: type) -> list[str]:
    comments = _comments(cls)
    rows = []
    for name, field in cls.model_fields.items():
        if name.startswith("_"):
            continue
        default = "(required)" if field.is_required() else _default(field.get_default(call_default_factory=True))
        description = (comments.get(name, "") or "").replace("|", "\\|")
        rows.append(f"| `{name}` | {_type_name(field.annotation)} | {default} | {description} |")
    return rows


def _table(title: str, cls: type) -> str:
    doc = inspect.cleandoc(cls.__dict__.get("__doc__") or "").split("\n\n")[0].replace("\n", " ")
    return (f"### {title}\n\n" + (f"{doc}\n\n" if doc else "") + "| setting | type | default | what it does |\n"
            "|---|---|---|---|\n" + "\n".join(field_rows(cls)) + "\n")


def render() -> str:
    from .definitions import all_assets, build_resources

    parts = [HEADER, "## Assets\n"]
    for asset_def in all_assets:
        function = inspect.unwrap(asset_def.op.compute_fn.decorated_fn)
        config_cls = typing.get_type_hints(function).get("config")
        if config_cls is not None:
            parts.append(_table(f"`{asset_def.op.name}`", config_cls))
    parts.append("## Resources\n")
    resources = build_resources(base_uri="<storage root>")
    rooted = [key for key, resource in resources.items() if set(type(resource).model_fields) == {"base_uri"}]
    parts.append(f"{', '.join(f'`{key}`' for key in rooted)}: `base_uri`, the storage root every artifact lives "
                 "under (a folder or an fsspec URI such as `s3://bucket/prefix`); default `SPARK_ARXIV_STORAGE_URI`, "
                 "else the data dir.\n")
    for key, resource in resources.items():
        if key not in rooted and key != "pyspark":
            parts.append(_table(f"`{key}` ({type(resource).__name__})", type(resource)))
    parts.append("### `pyspark`\n\n`spark_config`: any Spark setting; defaults from `resources/spark.py:default_spark_config` "
                 "(`spark.master` from `SPARK_ARXIV_SPARK_MASTER`, `local[*]`).\n")
    return "\n".join(parts)


def main() -> int:
    TARGET.write_text(render())
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
