/* mist file formats: .npy (+ JSON sidecar), .csv (+ JSON sidecar), self-contained .msgpack
 * records, and suite manifests. Every writer goes through a temporary file and a rename, so a
 * crash never leaves a half-written file under the final name. Every reader validates what it
 * reads and fails with MIST_EFORMAT and a message naming the problem. */
#ifndef MIST_IO_H
#define MIST_IO_H

#include <stdio.h>
#include <time.h>

#include "mist_core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum mist_format {
    MIST_FMT_AUTO = 0, /* from the file name's extension */
    MIST_FMT_NPY,
    MIST_FMT_CSV,
    MIST_FMT_MSGPACK,
    MIST_FMT_NPZ /* numpy.savez archives: read only */
} mist_format;

typedef enum mist_dtype { MIST_DTYPE_F64 = 0, MIST_DTYPE_F32 } mist_dtype;

/* ".npy" -> NPY, ".csv"/".tsv"/".tab" -> CSV, ".msgpack"/".mpk" -> MSGPACK, ".npz" -> NPZ,
 * else AUTO (unknown). */
MIST_API mist_format mist_format_from_path(const char *path);
MIST_API const char *mist_format_name(mist_format f); /* "npy", "csv", "msgpack", "npz" */
/* Parses "npy"/"csv"/"msgpack"/"npz"; returns MIST_EINVAL on anything else. */
MIST_API int mist_format_parse(const char *s, mist_format *out, mist_err *err);

/* The sidecar of data.npy is data.npy.json (of data.csv data.csv.json: two data files never
 * share one). Writes into buf (size bufsz). Readers also take the name of mist 0.1, data.json,
 * when its "file" key names the data file (or it has none). */
MIST_API int mist_sidecar_path(char *buf, size_t bufsz, const char *path, mist_err *err);

/* ---- atomic files ---------------------------------------------------------------------- */
typedef struct mist_atomic_file mist_atomic_file;
/* Opens PATH.tmp.XXXXXX in the target's folder for writing. NULL on failure. */
MIST_API mist_atomic_file *mist_atomic_open(const char *path, mist_err *err);
MIST_API FILE *mist_atomic_stream(mist_atomic_file *af);
/* Flushes, checks for write errors, closes and renames onto the final name; frees af.
 * On any failure the temporary file is removed and the final name is untouched. */
MIST_API int mist_atomic_commit(mist_atomic_file *af, mist_err *err);
/* Closes and removes the temporary file; frees af. */
MIST_API void mist_atomic_abort(mist_atomic_file *af);
/* The write half of commit: flushes, syncs and closes the temporary file, reporting any write
 * error (disk full), without renaming it. af stays the caller's: commit it (just the rename
 * then) or abort it. Lets a writer of several files see every one complete before the first
 * rename. */
MIST_API int mist_atomic_finish(mist_atomic_file *af, mist_err *err);
/* Removes the temporaries NAME.tmp.XXXXXX that mist_atomic_open made for the given names
 * (plain file names) in folder dir and that were last modified before `before` (seconds since
 * the epoch): the leftovers of killed runs, which nothing else removes. *removed (may be NULL)
 * receives how many went. Best effort: an entry that cannot be examined is left alone. */
MIST_API int mist_atomic_clean_stale(const char *dir, const char *const *names, size_t count,
                                     time_t before, size_t *removed, mist_err *err);

/* ---- datasets -------------------------------------------------------------------------- */

/* Writes ds to path in fmt (AUTO: from the extension). npy and csv also write the JSON
 * sidecar with every metadata field (task, dx, dy, n, seed, params, mi, generator
 * version, dtype; transform and transform_seed only when a transform was applied). dtype
 * applies to npy only (csv is %.17g text, msgpack float64). */
MIST_API int mist_dataset_write(const mist_dataset *ds, const char *path, mist_format fmt,
                                mist_dtype dtype, mist_err *err);

/* Reads a dataset. dx_override > 0 sets dx (dy = columns - dx, must be >= 1), otherwise dx and
 * dy come from the sidecar or the record; a file with neither gives MIST_EINVAL asking for dx.
 * Checks the sidecar's n/dx/dy against the data. Data must be finite (MIST_EDATA otherwise).
 * path "-" reads CSV from standard input. */
MIST_API int mist_dataset_read(mist_dataset **out, const char *path, mist_format fmt, int dx_override,
                               mist_err *err);

/* The raw matrix of a file (any format), no dx/dy split: *data is n x cols row-major, owned by
 * the caller. meta (may be NULL) receives the metadata when the file has some (*has_meta = 1).
 * Used for column selection (--x / --y). */
MIST_API int mist_matrix_read(const char *path, mist_format fmt, double **data, size_t *n, size_t *cols,
                              mist_meta *meta, int *meta_dx, int *meta_dy, int *has_meta, mist_err *err);

/* A data file as a table: every format, with the options a user may need for files mist did
 * not write. */
typedef struct mist_read_opts {
    mist_format fmt; /* MIST_FMT_AUTO: from the extension */
    /* CSV: the field delimiter; 0: tab for .tsv/.tab files and for a first line with tabs and
     * no comma, else ','. Fields may be quoted ("1.5"). */
    char delimiter;
} mist_read_opts;

typedef struct mist_table {
    double *data; /* n x cols, row-major */
    size_t n, cols;
    char **names; /* cols names from a CSV header; NULL without one */
    /* has_meta: metadata of a sidecar or record (meta, meta_dx, meta_dy), or the X/Y split of an
     * .npz (meta_dx, meta_dy; meta.mi NaN) */
    mist_meta meta;
    int has_meta, meta_dx, meta_dy;
    /* CSV: column 1 holds 0, 1, 2, ... (or 1, 2, 3, ...) in order, n >= 3, under an empty
     * header name ("Unnamed: 0", "index"), or without a header in a file of 3 or more columns:
     * most likely the index pandas' to_csv writes, not data. The caller decides what to say. */
    int index_column;
} mist_table;

/* Reads path ("-": CSV from standard input) into t (zeroed first). .npz: an archive of
 * numpy.savez with one array (the matrix) or several (arrays x and y, else the first two, side
 * by side). .npy: float, integer or bool, C or Fortran order. */
MIST_API int mist_table_read(const char *path, const mist_read_opts *o, mist_table *t, mist_err *err);
MIST_API void mist_table_free(mist_table *t);
/* The 0-based column whose name is name (exact, then case-insensitive); -1 when none. */
MIST_API int mist_table_column(const mist_table *t, const char *name);

/* CSV from an open stream (header optional: a first line that does not parse as numbers is
 * taken as the header). name is used in messages. */
MIST_API int mist_csv_read_stream(FILE *f, const char *name, double **data, size_t *n, size_t *cols,
                                  mist_err *err);

/* ---- suite manifests ------------------------------------------------------------------- */

typedef struct mist_manifest_row {
    char id[64];
    char task[MIST_TASK_NAME_LEN];
    int dx, dy;
    size_t n;
    uint64_t seed;
    double mi;
    char file[256];   /* relative to the manifest's folder */
    /* "k=v;k=v", %.17g values. 1023 characters hold the longest list of the built-in suites
     * (additive noise at d = 32: at most 982); `mist gen` refuses a longer one, never cuts it. */
    char params[1024];
    /* the MI-preserving transform the dataset was written with (`mist gen --suite --transform`,
     * e.g. "flow" or "rotate+swap"); "" or "none": none */
    char transform[MIST_TASK_NAME_LEN];
} mist_manifest_row;

/* Columns: id,task,dx,dy,n,seed,mi,file,params, and ",transform" after them when any row has
 * one (so a suite written without a transform keeps the original nine columns). Atomic. */
MIST_API int mist_manifest_write(const char *path, const mist_manifest_row *rows, size_t nrows,
                                 mist_err *err);
/* Reads a manifest written by mist_manifest_write (either header); strict about columns and
 * values. */
MIST_API int mist_manifest_read(const char *path, mist_manifest_row **rows, size_t *nrows, mist_err *err);

#ifdef __cplusplus
}
#endif
#endif
