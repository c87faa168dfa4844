"""The one root of the console's own errors.

Every domain error (a refused permission, a bad account request, LiteLLM down, a bad setting, …) is a
`ConsoleError`, so pages and the CLI can show any of them as they are and let nothing else through as if
it were one. A subclass may also subclass the builtin its callers already catch (ValueError, RuntimeError).
"""

from __future__ import annotations


class ConsoleError(Exception):
    """A request the console cannot do; `str()` says why in words safe to show to a person (no secret, no trace).

    `audit_outcome` is how the gate (lib.auth.gate) audits this error when it ends an action: "failure",
    or None for an error that means nothing was attempted (a busy lock: try again), which is not audited.
    """

    audit_outcome: str | None = "failure"
