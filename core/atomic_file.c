/* Atomic file replacement: write PATH.tmp.XXXXXX in the target's own folder (so the rename
 * cannot cross file systems), flush and fsync it, then rename it over PATH. A reader therefore
 * sees either the old file or the complete new one, never a prefix. */
#include "mist_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

struct mist_atomic_file {
    FILE *f;
    char *path; /* final name */
    char *tmp;  /* temporary name, same folder */
    int failed; /* mist_atomic_finish reported an error: commit refuses */
};

/* Temporary names need only be unlikely to collide (O_EXCL catches the rest); a counter keeps
 * two threads of one process apart, pid/time/address keep processes apart. We build the name
 * ourselves instead of using mkstemp() because mkstemp creates files 0600, and replacing that
 * afterwards would need umask(), which is process-wide and racy in a threaded program. */
static atomic_ulong tmp_counter;

static void random_suffix(char out[7], const void *salt)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x = mist_mix64((uint64_t)getpid() ^ ((uint64_t)ts.tv_nsec << 20) ^
                            (uint64_t)ts.tv_sec);
    x = mist_mix64(x ^ (uint64_t)(uintptr_t)salt ^
                   mist_mix64((uint64_t)atomic_fetch_add(&tmp_counter, 1)));
    for (int i = 0; i < 6; i++) {
        out[i] = alphabet[x % 62];
        x /= 62;
    }
    out[6] = '\0';
}

mist_atomic_file *mist_atomic_open(const char *path, mist_err *err)
{
    if (!path || !*path) {
        mist_fail(err, MIST_EINVAL, "empty output path");
        return NULL;
    }
    mist_atomic_file *af = calloc(1, sizeof *af);
    size_t plen = strlen(path);
    if (af) {
        af->path = malloc(plen + 1);
        af->tmp = malloc(plen + sizeof ".tmp.XXXXXX");
    }
    if (!af || !af->path || !af->tmp) {
        if (af) {
            free(af->path);
            free(af->tmp);
        }
        free(af);
        mist_fail(err, MIST_ENOMEM, "out of memory opening '%s'", path);
        return NULL;
    }
    memcpy(af->path, path, plen + 1);

    int fd = -1, saved = 0;
    for (int attempt = 0; attempt < 100 && fd < 0; attempt++) {
        char suffix[7];
        random_suffix(suffix, af);
        snprintf(af->tmp, plen + sizeof ".tmp.XXXXXX", "%s.tmp.%s", path, suffix);
        /* 0666 and the umask give the file the same mode a plain fopen() would. */
        fd = open(af->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        saved = errno;
        if (fd < 0 && saved != EEXIST) break;
    }
    if (fd < 0) {
        mist_fail(err, MIST_EIO, "cannot create a temporary file for '%s': %s", path,
                  strerror(saved));
        free(af->path);
        free(af->tmp);
        free(af);
        return NULL;
    }
    af->f = fdopen(fd, "wb");
    if (!af->f) {
        saved = errno;
        close(fd);
        unlink(af->tmp);
        mist_fail(err, MIST_EIO, "cannot open a stream on '%s': %s", af->tmp, strerror(saved));
        free(af->path);
        free(af->tmp);
        free(af);
        return NULL;
    }
    return af;
}

FILE *mist_atomic_stream(mist_atomic_file *af)
{
    return af ? af->f : NULL;
}

static void free_af(mist_atomic_file *af)
{
    free(af->path);
    free(af->tmp);
    free(af);
}

/* Makes the rename itself durable. Best effort: some file systems refuse fsync on a folder,
 * and the data is already safe under one name or the other. */
static void sync_parent(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *dir;
    if (!slash) {
        dir = malloc(2);
        if (dir) strcpy(dir, ".");
    } else {
        size_t len = slash == path ? 1 : (size_t)(slash - path);
        dir = malloc(len + 1);
        if (dir) {
            memcpy(dir, path, len);
            dir[len] = '\0';
        }
    }
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(dir);
}

/* Flush, sync and close; 0, or the failed step's name with *saved its errno. */
static const char *finish_steps(mist_atomic_file *af, int *saved)
{
    FILE *f = af->f;
    const char *what = NULL;
    /* Each step is checked: fwrite errors may surface only at fflush, fsync or even fclose
     * (e.g. on NFS), and any of them means the temporary file is not the complete output. */
    if (fflush(f) != 0) {
        *saved = errno;
        what = "write";
    } else if (ferror(f)) {
        *saved = EIO;
        what = "write";
    } else if (fsync(fileno(f)) != 0) {
        *saved = errno;
        what = "sync";
    }
    if (fclose(f) != 0 && !what) {
        *saved = errno;
        what = "close";
    }
    af->f = NULL;
    return what;
}

int mist_atomic_finish(mist_atomic_file *af, mist_err *err)
{
    if (!af) return mist_fail(err, MIST_EINVAL, "no file to finish");
    if (!af->f) return MIST_OK; /* finished already */
    int saved = 0;
    const char *what = finish_steps(af, &saved);
    if (what) {
        af->failed = 1;
        return mist_fail(err, MIST_EIO, "cannot %s '%s': %s", what, af->path, strerror(saved));
    }
    return MIST_OK;
}

int mist_atomic_commit(mist_atomic_file *af, mist_err *err)
{
    if (!af) return mist_fail(err, MIST_EINVAL, "no file to commit");
    const char *what = NULL;
    int saved = 0;
    if (af->failed) {
        what = "write";
        saved = EIO;
    } else if (af->f) {
        what = finish_steps(af, &saved);
    }
    if (!what && rename(af->tmp, af->path) != 0) {
        saved = errno;
        what = "rename onto";
    }
    if (what) {
        unlink(af->tmp);
        int rc = mist_fail(err, MIST_EIO, "cannot %s '%s': %s", what, af->path,
                           strerror(saved));
        free_af(af);
        return rc;
    }
    sync_parent(af->path);
    free_af(af);
    return MIST_OK;
}

void mist_atomic_abort(mist_atomic_file *af)
{
    if (!af) return;
    if (af->f) fclose(af->f);
    unlink(af->tmp);
    free_af(af);
}

/* "NAME.tmp.XXXXXX" with XXXXXX from random_suffix's alphabet: the length of NAME, else 0. */
static size_t temp_stem(const char *entry)
{
    size_t l = strlen(entry);
    if (l < sizeof ".tmp.XXXXXX") return 0;
    const char *t = entry + l - (sizeof ".tmp.XXXXXX" - 1);
    if (memcmp(t, ".tmp.", 5) != 0) return 0;
    for (int i = 5; i < 11; i++) {
        char c = t[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')))
            return 0;
    }
    return (size_t)(t - entry);
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int mist_atomic_clean_stale(const char *dir, const char *const *names, size_t count,
                            time_t before, size_t *removed, mist_err *err)
{
    if (removed) *removed = 0;
    if (!dir || (!names && count)) return mist_fail(err, MIST_EINVAL, "no folder or names");
    if (count == 0) return MIST_OK;
    const char **sorted = malloc(count * sizeof *sorted);
    if (!sorted) return mist_fail(err, MIST_ENOMEM, "out of memory");
    memcpy(sorted, names, count * sizeof *sorted);
    qsort(sorted, count, sizeof *sorted, cmp_name);
    DIR *d = opendir(dir);
    if (!d) {
        free(sorted);
        return MIST_OK; /* no folder, no leftovers */
    }
    size_t dlen = strlen(dir), gone = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        size_t stem = temp_stem(de->d_name);
        if (!stem || stem >= 4096) continue;
        char name[4096];
        memcpy(name, de->d_name, stem);
        name[stem] = '\0';
        const char *key = name;
        if (!bsearch(&key, sorted, count, sizeof *sorted, cmp_name)) continue;
        char *full = malloc(dlen + strlen(de->d_name) + 2);
        if (!full) break;
        sprintf(full, "%s/%s", dir, de->d_name);
        struct stat st;
        /* lstat: a link of that name is not ours to follow; only plain files are removed */
        if (lstat(full, &st) == 0 && S_ISREG(st.st_mode) && st.st_mtime < before &&
            unlink(full) == 0)
            gone++;
        free(full);
    }
    closedir(d);
    free(sorted);
    if (removed) *removed = gone;
    return MIST_OK;
}
