"""The peers' applications, each defining the one benchmark task; imported by their workers."""
