"""Usage analytics: the DuckDB store, ingest from LiteLLM, queries, exports, charts and view state."""
