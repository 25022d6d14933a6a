/* mist_default_model_path / mist_model_open_default: the search order (MIST_WEIGHTS, the
 * prefix next to the library or program, the compiled-in dirs) and its failures. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mist_infer.h"
#include "testutil.h"

static int ends_with(const char *s, const char *tail)
{
    size_t a = strlen(s), b = strlen(tail);
    return a >= b && !strcmp(s + a - b, tail);
}

START_TEST(test_env_override_only_for_default)
{
    mist_err err = {0};
    char path[PATH_MAX];
    setenv("MIST_WEIGHTS", "/nonexistent/own-model.msgpack", 1);
    /* an explicit choice is returned as given, even when absent: opening it says so */
    ck_assert_int_eq(mist_default_model_path(NULL, path, sizeof path, &err), 0);
    ck_assert_str_eq(path, "/nonexistent/own-model.msgpack");
    ck_assert_ptr_null(mist_model_open_default(NULL, &err));
    ck_assert_msg(strstr(err.msg, "/nonexistent/own-model.msgpack"), "%s", err.msg);
    /* a shipped model asked for by name is not overridden */
    ck_assert_int_eq(mist_default_model_path("mist-point.msgpack", path, sizeof path, &err), 0);
    ck_assert_msg(ends_with(path, "/mist-point.msgpack") && access(path, R_OK) == 0, "%s", path);
}
END_TEST

START_TEST(test_shipped_model_found)
{
    unsetenv("MIST_WEIGHTS");
    mist_err err = {0};
    char path[PATH_MAX];
    ck_assert_int_eq(mist_default_model_path(NULL, path, sizeof path, &err), 0);
    ck_assert_msg(ends_with(path, "/" MIST_DEFAULT_MODEL), "%s", path);
    mist_model *m = mist_model_open_default(NULL, &err);
    ck_assert_msg(m != NULL, "%s", err.msg);
    /* the file found is the shipped quantile model */
    ck_assert_int_eq(mist_model_arch(m)->quantile_conditioned, 1);
    mist_model_free(m);
}
END_TEST

START_TEST(test_bad_names)
{
    unsetenv("MIST_WEIGHTS");
    mist_err err = {0};
    char path[PATH_MAX];
    ck_assert_int_eq(mist_default_model_path("../mist-qr.msgpack", path, sizeof path, &err),
                     MIST_EINVAL);
    ck_assert_int_eq(mist_default_model_path("", path, sizeof path, &err), MIST_EINVAL);
    ck_assert_int_eq(mist_default_model_path("no-such-model.msgpack", path, sizeof path, &err),
                     MIST_EIO);
    ck_assert_msg(strstr(err.msg, "no-such-model.msgpack") && strstr(err.msg, "share/mist/weights"),
                  "%s", err.msg);
    ck_assert_str_eq(path, "");
    ck_assert_ptr_null(mist_model_open_default("no-such-model.msgpack", &err));
    /* a buffer too small for any path found is a failure, never a truncated path */
    char tiny[4];
    ck_assert_int_ne(mist_default_model_path(NULL, tiny, sizeof tiny, &err), 0);
}
END_TEST

/* A relocated install: share/mist/weights beside this program's folder (bin/ and tests/ alike
 * sit one level below their prefix) is found before the compiled-in places. */
START_TEST(test_next_to_program)
{
    unsetenv("MIST_WEIGHTS");
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    ck_assert_int_gt(len, 0);
    exe[len] = '\0';
    *strrchr(exe, '/') = '\0';
    char share[PATH_MAX + 64], dir[PATH_MAX + 64], file[PATH_MAX + 128], name[64];
    snprintf(share, sizeof share, "%s/../share", exe);
    int had_share = access(share, F_OK) == 0;
    snprintf(dir, sizeof dir, "%s/../share/mist/weights", exe);
    char cmd[PATH_MAX + 128];
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(name, sizeof name, "reloc-%ld.msgpack", (long)getpid());
    snprintf(file, sizeof file, "%s/%s", dir, name);
    tu_write(file, "x", 1);
    mist_err err = {0};
    char path[PATH_MAX];
    int rc = mist_default_model_path(name, path, sizeof path, &err);
    struct stat want, got;
    int same = rc == 0 && stat(file, &want) == 0 && stat(path, &got) == 0 &&
               want.st_dev == got.st_dev && want.st_ino == got.st_ino;
    unlink(file);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", had_share ? dir : share);
    ck_assert_int_eq(system(cmd), 0);
    ck_assert_msg(same, "rc %d, path '%s', %s", rc, path, err.msg);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("default_model");
    tu_case(s, "lookup", 0, test_env_override_only_for_default, test_shipped_model_found,
            test_bad_names, test_next_to_program, NULL);
    return tu_run(s) ? 1 : 0;
}
