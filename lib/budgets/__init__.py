"""Budgets: console budgets per scope (global, team, API key, user, model group), their spend from the usage
store, the projection to the end of the period, alert states and their notifications."""
