"""fairaudit's Parquet score files (written by :meth:`ScoreSet.save`), read into a table of
comparisons with the attribute names and the covariates' kinds stored in the metadata."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from fairaudit.common import errors
from fairaudit.data.covariates import kinds_from_json
from fairaudit.data.input_files import parquet_metadata
from fairaudit.data.score_files.csv_tables import CSV_MISSING_COLUMNS
from fairaudit.data.score_files.text import SCORE_FILE_EMPTY

PARQUET_UNREADABLE = (
    "{path!r} could not be read as Parquet: {detail}. Fix: check the file, or write it "
    "with ScoreSet.save()."
)


def _parquet_pairs(path: Path) -> tuple[pd.DataFrame, list[str] | None, dict[str, str] | None]:
    """The comparisons of a fairaudit Parquet file, the attribute names and the covariates' kinds
    stored in its metadata (None when it stores none)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if path.stat().st_size == 0:
        raise errors.FairauditInputError(SCORE_FILE_EMPTY.format(path=str(path), detail="0 bytes"))
    try:
        arrow = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise errors.FairauditInputError(
            PARQUET_UNREADABLE.format(path=str(path), detail=str(exc).strip())
        ) from None
    names = list(arrow.column_names)
    duplicated = sorted({c for c in names if names.count(c) > 1})
    if duplicated:
        raise errors.FairauditInputError(
            errors.PARQUET_DUPLICATE_COLUMNS.format(path=str(path), columns=duplicated))
    missing = [c for c in ("score", "identity_a", "identity_b") if c not in names]
    if missing:
        raise errors.FairauditInputError(
            CSV_MISSING_COLUMNS.format(path=str(path), format="fairaudit-parquet",
                                       missing=missing, found=names,
                                       fix="write it with ScoreSet.save().")
        )
    meta = parquet_metadata(path, arrow.schema, writer="ScoreSet.save()")
    stored = meta.get("attributes")
    if stored is not None and not (isinstance(stored, list) and all(isinstance(n, str) for n in stored)):
        raise errors.FairauditInputError(errors.STORED_JSON_INVALID.format(
            path=str(path), what="attribute list in the Parquet metadata 'fairaudit'",
            detail=f"expected a list of names, got {stored!r}"[:200], writer="ScoreSet.save()"))
    kinds = None
    if meta.get("covariates") is not None:
        try:
            kinds = kinds_from_json(meta["covariates"], where=f"{str(path)!r} (Parquet metadata 'fairaudit')")
        except errors.FairauditInputError as exc:
            raise errors.FairauditInputError(str(exc).replace("EmbeddingSet.save()", "ScoreSet.save()")) from None
    for name in names:
        if name != "score" and pa.types.is_nested(arrow.schema.field(name).type):
            raise errors.FairauditInputError(errors.PARQUET_LABEL_TYPE.format(
                path=str(path), column=name, type=arrow.schema.field(name).type,
                writer="ScoreSet.save()"))
    frame = pd.DataFrame({name: arrow.column(name).to_pandas() for name in names})
    return frame, stored, kinds
