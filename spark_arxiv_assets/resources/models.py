"""The embedding model as a Dagster resource (loading it is `core/embedding_model.py`; causal LMs,
teacher and student, are `core/causal_lm.py`)."""
from __future__ import annotations

from dagster import ConfigurableResource

from ..core.defaults import EMBEDDING_MODEL
from ..core.embedding_model import embedding_function, load_sentence_transformer


class EmbeddingModel(ConfigurableResource):
    """Sentence-transformers encoder used for chunk sizing, indexing and retrieval."""

    model: str = EMBEDDING_MODEL  # an HF id or a path; the bundled MiniLM works offline
    device: str = "cpu"  # cpu | cuda[:n]
    batch_size: int = 32  # texts per encoding batch

    def load(self):
        return load_sentence_transformer(self.model, self.device)

    def embed_function(self):
        """texts → unit-length vectors with this model and batch size."""
        return embedding_function(self.model, self.device, self.batch_size)

    def retriever(self, index, **options):
        """A `Retriever` over `index` that embeds queries with this model. Refuses an index built
        with another model: its vectors would not be comparable with the queries."""
        from ..core.retrieval import Retriever

        built_with = index.manifest.get("embedding_model")
        if built_with not in (None, self.model):
            raise ValueError(f"chunk_index was built with {built_with!r} but the embedder is {self.model!r}: "
                             f"re-materialize chunk_index with this embedder (or set it back)")
        return Retriever(index, self.embed_function(), **options)
