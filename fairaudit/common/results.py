"""What every result class shares: JSON and HTML output."""

from __future__ import annotations

from pathlib import Path
from typing import Any


class ResultOutput:
    """Mixin for result dataclasses that define ``to_dict()``."""

    def to_json(self, path: str | Path | None = None, *, indent: int | None = None) -> str:
        """Serialise to JSON (NaN becomes null); also write it atomically when ``path`` is given."""
        from fairaudit.common.files import write_text_atomic
        from fairaudit.common.serialize import dumps

        text = dumps(self.to_dict(), indent=indent)  # type: ignore[attr-defined]
        if path is not None:
            write_text_atomic(path, text)
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> Any:
        """Read a result written by :meth:`to_json` (a path or the JSON text)."""
        import json

        text = str(text_or_path)
        if not text.lstrip().startswith("{"):
            text = Path(text_or_path).read_text(encoding="utf-8")
        return cls.from_dict(json.loads(text))  # type: ignore[attr-defined]

    def to_html(self, path: str | Path, **kwargs: Any) -> Path:
        """Write this result as a self-contained HTML report (see :func:`fairaudit.report`)."""
        from fairaudit.reporting import to_html

        return to_html(self, path, **kwargs)
