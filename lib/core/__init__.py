"""Foundations every domain builds on: settings, the app database and its migration runner, job runs, files,
text safety, formatting."""
