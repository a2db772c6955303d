"""Pure logic: no Dagster, no Spark. Everything here is testable on its own."""
