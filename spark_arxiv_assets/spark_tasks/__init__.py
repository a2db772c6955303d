"""The bodies of the Spark jobs (extraction, chunking, embedding) and how the driver collects
them. Executors import these modules, so they import no Dagster."""
