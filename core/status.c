#include "mist_core.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *mist_status_name(int code)
{
    switch (code) {
    case MIST_OK: return "ok";
    case MIST_EINVAL: return "invalid argument";
    case MIST_ENOMEM: return "out of memory";
    case MIST_EIO: return "i/o error";
    case MIST_EFORMAT: return "malformed file";
    case MIST_EDATA: return "unusable data";
    case MIST_ENUMERIC: return "numerical failure";
    default: return "unknown status";
    }
}

int mist_fail(mist_err *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void mist_err_clear(mist_err *err)
{
    if (err) {
        err->code = MIST_OK;
        err->msg[0] = '\0';
    }
}

uint64_t mist_mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t mist_seed_derive(uint64_t seed, uint64_t stream)
{
    return mist_mix64(mist_mix64(seed) ^ mist_mix64(stream + 0x5851f42d4c957f2dULL));
}
