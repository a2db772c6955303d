"""Where assets write the files that sit beside their values (the teacher's reply cache, JSONL
splits, evaluation files, PDFs uploaded for executors): the same root URI as the IO managers."""
from __future__ import annotations

from dagster import ConfigurableResource
from upath import UPath

from ..storage.uris import as_upath, is_local


class ArtifactStorage(ConfigurableResource):
    base_uri: str  # a folder or an fsspec URI such as s3://bucket/prefix

    def path(self, *parts: str) -> UPath:
        return as_upath(self.base_uri).joinpath(*parts)

    @property
    def is_local(self) -> bool:
        return is_local(self.base_uri)
