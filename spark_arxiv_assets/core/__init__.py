"""Pure logic, no Dagster: text, structure, chunking, retrieval, prompts, filters, metrics, and the
model code the assets and the chat share (loading causal LMs and the embedder, training)."""
