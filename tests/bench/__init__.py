"""Benchmark: the Usage page's whole query set on DuckDB, against pandas and PostgreSQL (LiteLLM's layout).

    python -m tests.bench [--rows 10000000] [--repeat 5] [--json] [--no-postgres]

What it does, in one run:

1. Generates a synthetic LiteLLM deployment (1,500 API keys of 500 users in 10 teams, 15 models of 6
   providers behind 18 model groups, ~2 years of days ending today, growing traffic, quiet weekends) as
   rows of LiteLLM's daily table (`LiteLLM_DailyUserSpend`: date x user x key x model x group), and
   derives from them, vectorised, exactly the rows ingest stores (every breakdown x API key, with
   lib/usage/ingest.py's provider attribution) until there are `--rows` stored rows.
2. Writes them with `UsageStore.replace_days` (64 days per call) and loads a fresh `UsageStore`.
3. Times `lib.usage.queries.usage_page_queries` (overview + trends + every breakdown + daily series + heatmap)
   for 7, 30, 90 and 365 days, unfiltered, with 2 providers + 3 users, and with 1 model; the same
   questions with pandas on a DataFrame of the same stored rows (in memory, date-sorted; only the
   queries are timed); and, where `initdb` exists, with SQL GROUP BYs on a throwaway PostgreSQL holding
   the same data in LiteLLM's own `LiteLLM_DailyUserSpend` layout with LiteLLM's indexes (plus key and
   user tables for aliases, owners, teams and e-mails). Figures are medians over rounds (each round runs
   every configuration once per engine); ratios are against DuckDB on the same data. The machine's load
   average is printed: on a shared machine, read the medians with it (the best DuckDB run is shown too).
4. Times ingest without HTTP: LiteLLM 1.108-shaped pages of the most recent ~200k daily rows (1,000 table
   rows per page; the document lib.litellm.demo.aggregate builds, vectorised) are read and merged as ingest does
   (`lib.usage.activity_sql.merge_pages` of the bodies) and written by `ingest_days`, three times each way:
   into a write-only store (parse + write, the issue's definition of ingest and the CLI's backfill: the
   headline `ingest_rows_per_s`) and into a serving store, which also loads the new days into this process's
   in-memory query tables as the app does (`ingest_serving_rows_per_s`); medians. Rows/s counts STORED rows
   written; the daily-table rows/s and a serial split of the cost (parse and merge, write) are printed too.
5. Cross-checks the engines: DuckDB and pandas must agree on every answer of every configuration,
   DuckDB and PostgreSQL on every answer that LiteLLM's table answers the same way, and the generated
   stored rows must equal what ingest (`merge_pages`) stores for the ingested days. Any difference
   is printed and the exit status is 1 (a correctness check; nothing here asserts a timing).

`python -m tests.bench.sources` (tests/bench/sources.py) is a second, separate benchmark: backfill from LiteLLM's
database against backfill from its API, on the real proxy of ../shared/litellm, with the same synthetic deployment.

Modules: `data` (the synthetic deployment and its stored rows), `query_timing` (the query set's rounds),
`pandas_usage` and `postgres_usage` (the baselines), `ingest_timing`, `answers` (the cross-checks), `__main__`
(the command line). A development tool: it lives under tests/ and is not part of the app.

With --json the output ends with one JSON line: rows, range_days (90), duckdb_ms, pandas_ms, postgres_ms
(null without PostgreSQL), ingest_rows_per_s and peak_rss_mb, plus a few extra keys (see `summary`).
If --pg-rows caps the PostgreSQL data below --rows, DuckDB is also timed on that capped dataset and
the PostgreSQL ratio is computed on it (like for like); the output says so.
"""
