"""Where artifacts live, without Dagster: URIs (a folder or an object store), atomic writes and
versioned folders, Parquet files, and the store's layout (the published index, the adapters and
which one is served, page files). The IO managers, the Spark tasks and the chat all use it."""
