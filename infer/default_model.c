/* The shipped models found without a path: what `mist estimate` does with no --weights, as a
 * library call, so that programs linking libmist (and the Python package) find them too.
 *
 * Search order: $MIST_WEIGHTS (a file; only for the default model), then
 * <dir of the code>/<rel>/share/mist/weights where the code is libmist.so (dladdr) or the
 * executable it is linked into (/proc/self/exe), so a relocated install works, then the install
 * data dir and the source tree's weights/ compiled in (a build directory anywhere). */
#define _GNU_SOURCE /* dladdr */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mist_infer.h"

#ifndef MIST_INSTALL_WEIGHTS_DIR
#define MIST_INSTALL_WEIGHTS_DIR ""
#endif
#ifndef MIST_SOURCE_WEIGHTS_DIR
#define MIST_SOURCE_WEIGHTS_DIR ""
#endif
/* From the installed library's and the installed program's folders to the weights (CMake
 * computes them from GNUInstallDirs: lib/x86_64-linux-gnu is two levels below the prefix). */
#ifndef MIST_LIBDIR_TO_WEIGHTS
#define MIST_LIBDIR_TO_WEIGHTS "../share/mist/weights"
#endif
#ifndef MIST_BINDIR_TO_WEIGHTS
#define MIST_BINDIR_TO_WEIGHTS "../share/mist/weights"
#endif

static int try_file(char *out, size_t outsz, const char *dir, const char *rel, const char *name)
{
    if (!dir[0]) return 0;
    int len = rel ? snprintf(out, outsz, "%s/%s/%s", dir, rel, name)
                  : snprintf(out, outsz, "%s/%s", dir, name);
    return len > 0 && (size_t)len < outsz && access(out, R_OK) == 0;
}

/* The folder of a file path, in buf; "" when it has none. */
static const char *dir_of(const char *path, char *buf, size_t len)
{
    buf[0] = '\0';
    const char *slash = strrchr(path, '/');
    if (!slash || (size_t)(slash - path) >= len) return buf;
    memcpy(buf, path, (size_t)(slash - path));
    buf[slash - path] = '\0';
    return buf;
}

int mist_default_model_path(const char *name, char *out, size_t outsz, mist_err *err)
{
    if (!out || outsz == 0) return mist_fail(err, MIST_EINVAL, "default model: no output buffer");
    out[0] = '\0';
    int is_default = !name;
    if (!name) name = MIST_DEFAULT_MODEL;
    if (!name[0] || strchr(name, '/'))
        return mist_fail(err, MIST_EINVAL,
                         "default model: '%s' is not a file name of a shipped model", name);
    const char *env = getenv("MIST_WEIGHTS");
    if (is_default && env && env[0]) {
        /* an explicit choice is never second-guessed: if it is wrong, opening it says so */
        if ((size_t)snprintf(out, outsz, "%s", env) >= outsz)
            return mist_fail(err, MIST_EINVAL, "default model: $MIST_WEIGHTS is too long");
        return MIST_OK;
    }
    char dir[PATH_MAX];
    Dl_info info;
    if (dladdr((void *)mist_default_model_path, &info) && info.dli_fname &&
        strchr(info.dli_fname, '/') &&
        try_file(out, outsz, dir_of(info.dli_fname, dir, sizeof dir), MIST_LIBDIR_TO_WEIGHTS,
                 name))
        return MIST_OK;
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        if (try_file(out, outsz, dir_of(exe, dir, sizeof dir), MIST_BINDIR_TO_WEIGHTS, name))
            return MIST_OK;
    }
    if (try_file(out, outsz, MIST_INSTALL_WEIGHTS_DIR, NULL, name) ||
        try_file(out, outsz, MIST_SOURCE_WEIGHTS_DIR, NULL, name))
        return MIST_OK;
    out[0] = '\0';
    return mist_fail(err, MIST_EIO,
                     "the shipped model %s was not found (looked in %s<prefix>/share/mist/weights "
                     "next to libmist and the program, %s and %s)",
                     name, is_default ? "$MIST_WEIGHTS, " : "",
                     MIST_INSTALL_WEIGHTS_DIR[0] ? MIST_INSTALL_WEIGHTS_DIR : "(no install dir)",
                     MIST_SOURCE_WEIGHTS_DIR[0] ? MIST_SOURCE_WEIGHTS_DIR : "(no source dir)");
}

mist_model *mist_model_open_default(const char *name, mist_err *err)
{
    char path[PATH_MAX];
    if (mist_default_model_path(name, path, sizeof path, err)) return NULL;
    return mist_model_open(path, err);
}

/* "qr" -> "mist-qr.msgpack", "mist-point" -> "mist-point.msgpack", "x.msgpack" as it is. */
static int shipped_name(const char *s, char *out, size_t outsz)
{
    size_t l = strlen(s), ext = sizeof ".msgpack" - 1;
    int has_ext = l > ext && !strcmp(s + l - ext, ".msgpack");
    int n = has_ext ? snprintf(out, outsz, "%s", s)
                    : snprintf(out, outsz, "%s%s.msgpack", strncmp(s, "mist-", 5) ? "mist-" : "", s);
    return l > 0 && !strchr(s, '/') && n > 0 && (size_t)n < outsz;
}

int mist_model_resolve(const char *spec, char *out, size_t outsz, mist_err *err)
{
    if (!spec || !out || outsz == 0) return mist_fail(err, MIST_EINVAL, "model: no name or no buffer");
    char name[256];
    if (!strncmp(spec, "mist:", 5)) {
        if (!shipped_name(spec + 5, name, sizeof name))
            return mist_fail(err, MIST_EINVAL,
                             "'%s' names no shipped model (mist:qr, mist:point, mist:FILE.msgpack)",
                             spec);
        return mist_default_model_path(name, out, outsz, err);
    }
    /* a file of that name here wins: a user's own "qr" is never shadowed */
    if (!strchr(spec, '/') && access(spec, F_OK) != 0 && shipped_name(spec, name, sizeof name)) {
        mist_err quiet = {0};
        if (!mist_default_model_path(name, out, outsz, &quiet)) return MIST_OK;
    }
    if ((size_t)snprintf(out, outsz, "%s", spec) >= outsz)
        return mist_fail(err, MIST_EINVAL, "model path '%.60s...' is too long", spec);
    return MIST_OK;
}
