"""Errors raised at fairaudit's public boundary.

Every message names the argument, what was expected, what came and how to fix
it. The templates are module constants so that tests can match them exactly
and so that the wording lives in one place.
"""

from __future__ import annotations


class FairauditInputError(ValueError):
    """Bad input to a public fairaudit function, with a message that says the fix."""


# --- EmbeddingSet -----------------------------------------------------------
EMB_NOT_2D = (
    "embeddings must be a 2-D array of shape (n_samples, n_features); got an array "
    "of shape {shape}. Fix: pass one row per sample, e.g. np.vstack(list_of_vectors)."
)
EMB_NOT_NUMERIC = (
    "embeddings must be numeric; got dtype {dtype}. Fix: convert with "
    "np.asarray(embeddings, dtype=np.float32)."
)
EMB_TOO_FEW_ROWS = (
    "embeddings has {n} row(s); an audit needs at least 2 samples. Fix: pass more samples."
)
LENGTH_MISMATCH = (
    "{name} has {got} entries but embeddings has {n} rows. Fix: give exactly one "
    "{name} value per embedding row, in the same order."
)
NON_FINITE_ROWS = (
    "embeddings has {count} row(s) containing NaN or inf (first rows: {rows}). Fix: "
    "drop or re-extract these samples; fairaudit never drops rows silently."
)
ZERO_NORM_ROWS = (
    "embeddings has {count} row(s) with zero norm (first rows: {rows}); cosine "
    "similarity is undefined for them. Fix: drop or re-extract these samples."
)
MISSING_VALUES = (
    "{name} has {count} missing value(s) (first rows: {rows}). Fix: fill them or drop "
    "those samples before building the set; fairaudit never drops rows silently."
)
TOO_FEW_IDENTITIES = (
    "identity has {n} distinct value(s); an audit needs at least 2 identities to form "
    "impostor pairs. Fix: pass samples of at least two people."
)
ATTRIBUTE_NOT_CONSTANT = (
    "attribute {column!r} changes between samples of identity {identity!r} (values: "
    "{values}). An identity belongs to exactly one group. Fix: correct the labels of "
    "that identity."
)
ATTRIBUTE_RESERVED = (
    "attribute column {column!r} clashes with a reserved name ({reserved}). Fix: "
    "rename the column."
)
ATTRIBUTES_NOT_TABLE = (
    "attributes must be a pandas DataFrame or a mapping of column name to values; got "
    "{type}. Fix: pass pd.DataFrame({{'gender': [...], 'ethnicity': [...]}})."
)

# --- files ------------------------------------------------------------------
FILE_NOT_FOUND = "{name}: file {path!r} does not exist. Fix: check the path."
FILE_SUFFIX = (
    "{name}: cannot tell the format of {path!r} from its suffix {suffix!r}; expected "
    "one of {expected}. Fix: rename the file or pass format=..."
)
NPZ_NEEDS_PICKLE = (
    "{path!r} stores object arrays that can only be read with pickle, which fairaudit "
    "refuses (loading a pickle can run arbitrary code). Fix: re-save the data with "
    "EmbeddingSet.save(), which stores strings as fixed-width text."
)
NPZ_MISSING_KEY = (
    "{path!r} is not an EmbeddingSet file: it lacks the array {key!r} (has: {keys}). "
    "Fix: write it with EmbeddingSet.save()."
)
PARQUET_MISSING_COLUMN = (
    "{path!r} is not an EmbeddingSet Parquet file: it lacks the column {key!r} (has: "
    "{keys}). Fix: write it with EmbeddingSet.save()."
)

# --- choosing groups --------------------------------------------------------
UNKNOWN_ATTRIBUTE = (
    "{name}={value!r} is not an attribute of the data; available attributes: "
    "{available}. Fix: pass one of them."
)
EMPTY_BY = "by must name at least one attribute; got {value!r}. Fix: pass by='ethnicity'."

# --- verification audit -----------------------------------------------------
BAD_THRESHOLD = (
    "threshold={value!r} is not a threshold policy. Expected a number (accept when "
    "score >= threshold), 'eer' (the pooled EER threshold) or {{'fmr': 1e-3}} / "
    "'fmr=1e-3' (the threshold where the pooled FMR equals the target). Fix: pass one "
    "of these."
)
BAD_FMR_TARGET = (
    "the FMR target {value!r} must be a number in (0, 1). Fix: pass e.g. "
    "threshold={{'fmr': 1e-3}}."
)
BAD_ALPHA = "alpha={value!r} must be a number in [0, 1]. Fix: pass e.g. alpha=0.5."
BAD_N_BOOT = (
    "n_boot={value!r} must be 0 (no confidence intervals) or an integer >= 20. Fix: "
    "pass e.g. n_boot=1000."
)
BAD_CI = "ci={value!r} must be a number in (0, 1). Fix: pass e.g. ci=0.95."
BAD_BIN_WIDTH = (
    "bin_width={value!r} must be a number in [1e-6, 0.01]. Fix: keep the default "
    "2**-14 unless you have a reason."
)
NO_GENUINE_PAIRS = (
    "the data has no genuine pairs: no identity has two or more samples, so FNMR and "
    "EER are undefined. Fix: include at least two samples for some identities."
)
BAD_DATA_TYPE = (
    "data must be a fairaudit.EmbeddingSet or a fairaudit.ScoreSet; got {type}. Fix: "
    "build one with EmbeddingSet(embeddings, identity=..., attributes=...) or load a "
    "score file with ScoreSet.read(...)."
)
