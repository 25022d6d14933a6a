/* Where `mist estimate` finds the shipped model when no --weights is given.
 *
 * The search order lets an installed copy, a build tree and a user override all work without
 * configuration: $MIST_WEIGHTS (a file), then <dir of the executable>/../share/mist/weights
 * (a relocated install), the install data dir compiled in, and the source tree compiled in
 * (a build directory anywhere). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

#ifndef MIST_INSTALL_WEIGHTS_DIR
#define MIST_INSTALL_WEIGHTS_DIR ""
#endif
#ifndef MIST_SOURCE_WEIGHTS_DIR
#define MIST_SOURCE_WEIGHTS_DIR ""
#endif

static int readable(const char *path) { return path[0] && access(path, R_OK) == 0; }

static int try_dir(const char *dir, const char *name, char *out, size_t outsz)
{
    if (!dir[0]) return 0;
    int len = snprintf(out, outsz, "%s/%s", dir, name);
    return len > 0 && (size_t)len < outsz && readable(out);
}

int cli_default_model(const char *name, char *out, size_t outsz, const char **env_used)
{
    *env_used = NULL;
    const char *env = getenv("MIST_WEIGHTS");
    if (env && env[0]) {
        /* An explicit choice is never second-guessed: if it is wrong, say so. */
        *env_used = env;
        int len = snprintf(out, outsz, "%s", env);
        return len > 0 && (size_t)len < outsz;
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len > 0) {
        exe[len] = '\0';
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = '\0';
            char dir[PATH_MAX + 32];
            snprintf(dir, sizeof dir, "%s/../share/mist/weights", exe);
            if (try_dir(dir, name, out, outsz)) return 1;
        }
    }
    if (try_dir(MIST_INSTALL_WEIGHTS_DIR, name, out, outsz)) return 1;
    if (try_dir(MIST_SOURCE_WEIGHTS_DIR, name, out, outsz)) return 1;
    return 0;
}
