"""Foundations every domain builds on: settings, the clock, the app database and its migration runner, job runs
and leases, files, URLs, text safety, formatting."""
