/* libFuzzer target: the file readers (npy, CSV, npz, msgpack dataset, the JSON sidecar, suite
 * manifests) on arbitrary bytes. The first byte picks the reader, the rest is the file (for the
 * sidecar: the JSON beside a small valid .npy). Must never crash, leak or read out of bounds;
 * a table that loads must hold n x cols finite-or-not doubles it can be walked over.
 * The readers take paths, so the bytes go to a file in a private folder (mkdtemp, removed at
 * exit).
 * Build and run: scripts/fuzz.sh (MIST_FUZZ=ON, clang). */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mist_io.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void cleanup(void)
{
    static const char *names[] = {"in.npy", "in.csv", "in.npz", "in.msgpack", "in.npy.json",
                                  "manifest.csv"};
    char p[128];
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(dir);
}

static void put(const char *path, const void *bytes, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (len && fwrite(bytes, 1, len, f) != len) abort();
    fclose(f);
}

/* A 2 x 2 float64 .npy (header padded to 64 bytes as numpy writes it). */
static void small_npy(const char *path)
{
    static const char hdr[] = "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }";
    unsigned char buf[128 + 32];
    memset(buf, ' ', 128);
    memcpy(buf, "\x93NUMPY\x01\x00\x76\x00", 10);
    memcpy(buf + 10, hdr, sizeof hdr - 1);
    buf[127] = '\n';
    double v[4] = {0.5, 1.5, -2.0, 3.25};
    memcpy(buf + 128, v, sizeof v);
    put(path, buf, sizeof buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) { /* a private folder, removed at exit */
        snprintf(dir, sizeof dir, "/tmp/mist-fuzz-XXXXXX");
        if (!mkdtemp(dir)) abort();
        atexit(cleanup);
    }
    if (size < 1) return 0;
    static const char *ext[6] = {"npy", "csv", "npz", "msgpack", "npy", "csv"};
    int which = data[0] % 6;
    char path[128], side[160];
    snprintf(path, sizeof path, "%s/in.%s", dir, ext[which]);
    mist_err err;
    if (which == 4) { /* the sidecar of a valid .npy */
        small_npy(path);
        if (mist_sidecar_path(side, sizeof side, path, &err)) abort();
        put(side, data + 1, size - 1);
        mist_dataset *ds = NULL;
        if (mist_dataset_read(&ds, path, MIST_FMT_NPY, 0, &err) == 0) mist_dataset_free(ds);
        unlink(side);
        return 0;
    }
    if (which == 5) { /* a suite manifest */
        snprintf(path, sizeof path, "%s/manifest.csv", dir);
        put(path, data + 1, size - 1);
        mist_manifest_row *rows = NULL;
        size_t n = 0;
        if (mist_manifest_read(path, &rows, &n, &err) == 0) free(rows);
        return 0;
    }
    put(path, data + 1, size - 1);
    mist_table t;
    mist_read_opts o = {MIST_FMT_AUTO, 0};
    if (mist_table_read(path, &o, &t, &err) == 0) {
        volatile double sink = 0;
        for (size_t i = 0; i < t.n * t.cols; i++) sink += t.data[i];
        (void)sink;
        mist_table_free(&t);
    }
    return 0;
}
