"""Virtual keys: LiteLLM's keys listed (a snapshot per process), joined with their usage, filtered, and changed
through the gate (create, edit, block, unblock, delete, replace)."""
