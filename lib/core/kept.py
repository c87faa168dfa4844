"""A copy of something read from LiteLLM, kept by the process (held by the Runtime) and read again only when it is
older than its maximum age, or on a reload: page loads share it instead of each reading LiteLLM."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Generic, Protocol, TypeVar


class Reading(Protocol):
    def age(self) -> timedelta: ...


R = TypeVar("R", bound=Reading)


class Kept(Generic[R]):
    """Thread-safe: sessions share it, and one reads while the others wait for its result rather than reading too.
    Subclasses say how to read (`read(client)`)."""

    def __init__(self, max_age: timedelta):
        self.max_age = max_age
        self._current: R | None = None
        self._lock = threading.Lock()  # guards _current
        self._loading = threading.Lock()  # one read at a time

    def read(self, client) -> R:
        raise NotImplementedError

    def peek(self) -> R | None:
        with self._lock:
            return self._current

    def get(self, client_factory: Callable, reload: bool = False) -> R:
        """The kept reading; read first when there is none, it is older than `max_age`, or `reload` (a reload asked
        while another read is running takes that one's result)."""
        seen = self.peek()
        if seen is not None and not reload and seen.age() < self.max_age:
            return seen
        with self._loading:
            current = self.peek()
            if current is not None and current is not seen and current.age() < self.max_age:
                return current  # read by another session while this one waited
            with client_factory() as client:
                fresh = self.read(client)
            with self._lock:
                self._current = fresh
            return fresh

    def forget(self) -> None:
        with self._lock:
            self._current = None
