"""Errors raised at fairaudit's public boundary.

Every message names the argument, what was expected, what came and how to fix
it. The templates are module constants so that tests can match them exactly
and so that the wording lives in one place.
"""

from __future__ import annotations


class FairauditInputError(ValueError):
    """Bad input to a public fairaudit function, with a message that says the fix."""

    __module__ = "fairaudit"  # its public name: tracebacks show fairaudit.FairauditInputError


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
EMB_COMPLEX = (
    "embeddings must hold real numbers; got dtype {dtype}, and casting would silently drop the "
    "imaginary part. Fix: decide what it means: np.hstack([emb.real, emb.imag]) keeps it as extra "
    "features, emb.real drops it."
)
EMB_OUT_OF_FLOAT32 = (
    "embeddings has {count} row(s) whose values {problem} float32's range (first rows: {rows}); "
    "fairaudit computes in float32, where they would become {becomes}. Fix: rescale each row, e.g. "
    "emb / np.abs(emb).max(axis=1, keepdims=True): cosine similarity is scale-invariant per row, "
    "so no score changes."
)
EMPTY_VALUES = (
    "{name} has {count} empty or blank value(s) (first rows: {rows}); an empty label would "
    "silently become a group or identity of its own. Fix: fill them or drop those samples "
    "before building the set; fairaudit never drops rows silently."
)
LABELS_DIFFER_BY_SPACE = (
    "{name} has labels that differ only by leading or trailing spaces ({examples}); they would "
    "count as different {what}. Fix: strip the spaces from the labels (e.g. "
    "labels.str.strip()), or make the labels really different."
)
LABEL_NOT_SEQUENCE = (
    "{name} must give one value per {per}; got {value} (type {type}). Fix: pass a list or "
    "array with one value per {per}."
)
ATTRIBUTE_NAMES_CLASH = (
    "attributes has several columns named {names} (names are compared as text). Fix: give "
    "every attribute column a unique name."
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
PATH_IS_DIRECTORY = (
    "{name}: {path!r} is a directory, not a file. Fix: pass the {kind} file itself{inside}."
)
FILE_NOT_READABLE = "{name}: cannot read {path!r}: {why}. Fix: check the file's permissions."
FILE_EMPTY = (
    "{name}: {path!r} is empty (0 bytes), so it is not {kind} file; an interrupted write, copy "
    "or download leaves such files. Fix: {fix}"
)
FILE_NOT_FORMAT = (
    "{name}: {path!r} is not {kind} file: it starts with {head!r}{what}. Fix: {fix}"
)
IN_FILE = "{path!r}: {message}"
NPZ_UNREADABLE = (
    "{path!r} is a damaged .npz file ({detail}). Fix: write it again with EmbeddingSet.save() "
    "from the original data."
)
NPZ_ARRAY_SHAPE = (
    "{path!r} is not a valid EmbeddingSet file: the array {key!r} has shape {shape}, expected "
    "{expected}. Fix: write it with EmbeddingSet.save()."
)
NPZ_ARRAY_DTYPE = (
    "{path!r} is not a valid EmbeddingSet file: the array {key!r} has dtype {dtype}, expected "
    "{expected}. Fix: write it with EmbeddingSet.save()."
)
NPZ_LENGTHS_DIFFER = (
    "{path!r} is not a valid EmbeddingSet file: its per-sample arrays have different lengths "
    "({lengths}); each holds one entry per embedding row. Fix: write it again with "
    "EmbeddingSet.save() from the original data."
)
NPZ_ATTRIBUTE_ARRAY_MISSING = (
    "{path!r} is not a valid EmbeddingSet file: attribute_names lists {attribute!r}, but its "
    "array {key!r} is missing (arrays present: {keys}). Fix: write it with EmbeddingSet.save()."
)
NPZ_ATTRIBUTE_NAMES_REPEATED = (
    "{path!r} is not a valid EmbeddingSet file: attribute_names lists {names} more than once. "
    "Fix: write it with EmbeddingSet.save()."
)
FORMAT_VERSION_NEWER = (
    "{path!r} was written in format version {version!r}; this fairaudit reads version "
    "{supported}. Fix: upgrade fairaudit (pip install -U fairaudit), or write the file again "
    "with this version."
)
STORED_JSON_INVALID = (
    "{path!r}: the stored {what} is not valid ({detail}). Fix: write the file again with "
    "{writer}, or remove {what} from the file."
)
NPY_NOT_FLOAT = (
    "file {path!r} holds {dtype} values; a memory-mapped .npy of embeddings must hold numeric "
    "floats (float16, float32 or float64). Fix: save the embeddings as floats, e.g. "
    "np.save(path, embeddings.astype(np.float32))."
)
NPY_TRUNCATED = (
    "file {path!r} is cut short: its header announces shape {shape} of {dtype} ({need} bytes "
    "of data), but only {have} bytes follow the header. Fix: copy or write the file again "
    "(np.save)."
)
NPY_UNREADABLE = (
    "file {path!r} is not a readable .npy file ({detail}). Fix: save a plain numeric array "
    "with numpy.save()."
)
PARQUET_FILE_UNREADABLE = (
    "{path!r} could not be read as Parquet ({detail}). Fix: write it again with "
    "{writer}; a truncated copy or a file of another format gives this error."
)
PARQUET_EMBEDDING_TYPE = (
    "{path!r}: column 'embedding' is {type}, not a list of numbers per row. Fix: write the file "
    "with EmbeddingSet.save() (it stores a fixed-size list of float32)."
)
PARQUET_EMBEDDING_RAGGED = (
    "{path!r}: the rows of column 'embedding' have different lengths ({lengths}; first rows "
    "whose length differs from row 0: {rows}); every embedding needs the same number of "
    "features. Fix: re-extract those samples with the same model, or drop them before saving."
)
PARQUET_EMBEDDING_NULL = (
    "{path!r}: column 'embedding' has {count} missing row(s) (first rows: {rows}). Fix: drop or "
    "re-extract these samples; fairaudit never drops rows silently."
)
PARQUET_NOT_FIXED_SIZE = (
    "{path!r}: column 'embedding' is {type}, not a fixed-size list of floats, so it cannot be "
    "read out of core. Fix: write the file with EmbeddingSet.save(), or load it with "
    "out_of_core=False."
)
PARQUET_LABEL_TYPE = (
    "{path!r}: column {column!r} is {type}; a label column must hold one plain value (text or "
    "number) per row. Fix: store one plain value per row, e.g. write the file with {writer}."
)
PARQUET_DUPLICATE_COLUMNS = (
    "{path!r} has duplicated column name(s) {columns}. Fix: give every column a unique name."
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
