"""The changes one command makes, printed as they are made, or only printed in a dry run."""

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TextIO, TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class Change:
    """One change to one AWS resource."""

    action: str
    resource: str
    detail: str = ""

    def describe(self) -> str:
        """The change as one line: "update  function sysaddons_stage_xpi: code -> version 4"."""
        line = f"{self.action:<8} {self.resource}"
        return f"{line}: {self.detail}" if self.detail else line


class Plan:
    """Records and prints each change; applies it unless this is a dry run."""

    def __init__(self, dry_run: bool = False, out: TextIO | None = None):
        self.dry_run = dry_run
        self.changes: list[Change] = []
        self.notes: list[str] = []
        self.out = out or sys.stdout

    def say(self, line: str) -> None:
        """Print a line that is neither a change nor a note (headings, status)."""
        print(line, file=self.out, flush=True)

    def change(self, action: str, resource: str, detail: str, apply: Callable[[], T]) -> T | None:
        """Record a change and make it; in a dry run only record it, and answer None."""
        change = Change(action, resource, detail)
        self.changes.append(change)
        self.say(f"  {'would ' if self.dry_run else ''}{change.describe()}")
        if self.dry_run:
            return None
        return apply()

    def note(self, message: str) -> None:
        """Something a person has to do or know; not a change."""
        self.notes.append(message)
        self.say(f"  note: {message}")

    def summary(self) -> str:
        """One closing line: how many changes, or that nothing changed."""
        count = len(self.changes)
        changes = "change" if count == 1 else "changes"
        if self.dry_run:
            if not count:
                return "Dry run: nothing would change."
            return f"Dry run: {count} {changes} would be made; nothing was changed."
        if not count:
            return "Nothing changed: everything is already as configured."
        return f"{count} {changes} made."
