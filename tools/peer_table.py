"""The table of checks the peer tools (``peer_check.py``, ``peer_identification.py``) print: one row
per figure compared, fairaudit's value against the peer's, the rule of the comparison and its verdict.
numpy-free, so it runs in the peer environment too."""

from __future__ import annotations

from typing import Any, Callable


class Table:
    """Rows of ``(where, figure, fairaudit, peer, rule, verdict)``; values are shown with ``fmt``."""

    def __init__(self, peer: str, fmt: Callable[[Any], str]):
        self.peer = peer
        self.fmt = fmt
        self.rows: list[tuple[str, ...]] = []

    def add(self, where, figure, ours, theirs, ok, how="exact"):
        self.rows.append((where, figure, self.fmt(ours), self.fmt(theirs), how, "ok" if ok else "MISMATCH"))

    @property
    def failed(self) -> int:
        return sum(r[-1] != "ok" for r in self.rows)

    def print(self):
        head = ("set/group", "figure", "fairaudit", self.peer, "rule", "")
        widths = [max(len(str(r[i])) for r in [head, *self.rows]) for i in range(6)]
        for r in [head, *self.rows]:
            print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())

    def finish(self) -> int:
        """Print the table and the count of mismatches; the exit status (1 on any mismatch)."""
        self.print()
        print(f"{len(self.rows)} checks, {self.failed} mismatches")
        return 1 if self.failed else 0
