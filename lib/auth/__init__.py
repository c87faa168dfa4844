"""Who may do what: roles and permissions, console accounts and sessions, the audit log."""
