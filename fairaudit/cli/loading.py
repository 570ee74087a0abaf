"""Data loading for the commands: an EmbeddingSet or a ScoreSet from the DATA argument
(``load_data``), embeddings memory-mapped from a ``.npy`` with a labels CSV, and the labels CSVs
themselves, refused when a cell is empty."""

from __future__ import annotations

from pathlib import Path

from fairaudit.common.errors import FairauditInputError

DATA_MISSING = "DATA file {path!r} does not exist. Fix: check the path of the data argument."
DATA_IS_DIR = (
    "DATA {path!r} is a directory; expected a file (an EmbeddingSet .npz/.parquet, a .npy with --labels, "
    "or a score file). Fix: pass the file itself."
)
LABELS_EMPTY_CELLS = (
    "{option}: {path!r} has {count} empty cell(s) in column {column!r} (lines {lines}); an empty label "
    "would become a group named ''. Fix: fill them in, or drop those rows from the data and the labels alike."
)


def load_data(path: str, *, fmt: str | None = None, identity_attributes: str | None = None,
              labels: str | None = None, out_of_core: bool = False, sample_columns: tuple[str, ...] = ()):
    """An EmbeddingSet (``.npz``/``.parquet`` written by fairaudit, or ``.npy`` with a labels CSV) or a
    ScoreSet (score files).

    ``sample_columns`` are columns of the labels CSV that describe samples, not identities (such as
    the gallery/probe role of ``fairaudit identify``): they are left out of the attributes."""
    from fairaudit.data import EmbeddingSet

    p = Path(path)
    if not p.exists():
        raise FairauditInputError(DATA_MISSING.format(path=path))
    if p.is_dir():
        raise FairauditInputError(DATA_IS_DIR.format(path=path))
    suffix = p.suffix.lower()
    if suffix == ".npy":
        return _npy_with_labels(p, labels, sample_columns)
    if labels is not None:
        raise FairauditInputError(
            f"--labels is for a .npy of embeddings; DATA {path!r} carries its own labels. Fix: drop --labels."
        )
    if fmt in (None, "embeddings") and suffix == ".npz":
        return EmbeddingSet.load(p, out_of_core=out_of_core)
    if fmt in (None, "embeddings") and suffix == ".parquet":
        from fairaudit.data import parquet_has_embeddings

        if parquet_has_embeddings(p):
            return EmbeddingSet.load(p, out_of_core=out_of_core)
    from fairaudit.data import ScoreSet

    attrs = None
    if identity_attributes is not None:
        import pandas as pd

        if not Path(identity_attributes).is_file():
            raise FairauditInputError(
                f"--identity-attributes: file {identity_attributes!r} does not exist. Fix: check the path.")
        attrs = _read_labels_csv(identity_attributes, "--identity-attributes")
        if "identity" not in attrs.columns:
            raise FairauditInputError(
                f"--identity-attributes: {identity_attributes!r} has no 'identity' column (columns: "
                f"{list(attrs.columns)}). Fix: add a column named identity."
            )
        attrs = attrs.set_index("identity")
    return ScoreSet.read(p, format=None if fmt in (None, "scores") else fmt, identity_attributes=attrs)


def _npy_with_labels(path: Path, labels: str | None, sample_columns: tuple[str, ...] = ()):
    """Embeddings memory-mapped from a .npy; identity and attributes from a CSV, row for row."""
    import pandas as pd

    from fairaudit.data import EmbeddingSet

    if labels is None:
        raise FairauditInputError(
            f"DATA {str(path)!r} is a .npy of embeddings without labels. Fix: add --labels labels.csv, a CSV "
            "with an 'identity' column and one column per attribute, one row per embedding row."
        )
    if not Path(labels).is_file():
        raise FairauditInputError(f"--labels: file {labels!r} does not exist. Fix: check the path.")
    table = _read_labels_csv(labels, "--labels")
    if "identity" not in table.columns:
        raise FairauditInputError(
            f"--labels: {labels!r} has no 'identity' column (columns: {list(table.columns)}). Fix: add a "
            "column named identity."
        )
    attrs = table.drop(columns=[c for c in ("identity", "path", *sample_columns) if c in table.columns])
    return EmbeddingSet.from_npy(path, identity=table["identity"].to_numpy(),
                                 attributes=attrs if attrs.shape[1] else None,
                                 path=table["path"].to_numpy() if "path" in table.columns else None)


def _read_labels_csv(path: str, option: str):
    """A labels CSV with every cell as text; an empty cell is refused (never a group named '')."""
    import pandas as pd

    try:
        # keep_default_na=False: "NA" or "None" are labels (e.g. North America), not gaps
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
    except UnicodeDecodeError:
        from fairaudit.data import utf8_error

        raise FairauditInputError(f"{option}: {utf8_error(Path(path))}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise FairauditInputError(
            f"{option}: {path!r} is not a readable CSV table ({str(exc).strip().splitlines()[0]}). Fix: write "
            "one header line and one comma-separated row per sample.") from None
    for column in table.columns:
        empty = table[column].str.strip() == ""
        if empty.any():
            lines = (empty.to_numpy().nonzero()[0][:5] + 2).tolist()  # + header line, 1-based
            raise FairauditInputError(LABELS_EMPTY_CELLS.format(
                option=option, path=path, count=int(empty.sum()), column=column, lines=lines))
    return table


def _load_embeddings(path: str):
    """An EmbeddingSet file, refusing score files (classification and diagnostics need embeddings)."""
    from fairaudit.data import EmbeddingSet

    data = load_data(path)
    if not isinstance(data, EmbeddingSet):
        raise FairauditInputError(
            f"DATA: {path!r} holds scores, not embeddings; this command works on embeddings. Fix: pass an "
            "EmbeddingSet file (.npz or .parquet)."
        )
    return data
