/* FNV-1a 64 checksums of msgpack files (core/checksum.h). */
#include "checksum.h"

#include <string.h>

uint64_t mist_fnv1a64(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ULL;
    return h;
}

int mist_hashed_write(void *data, const char *buf, size_t len)
{
    mist_hashed_file *hf = data;
    hf->h = mist_fnv1a64(hf->h, buf, len);
    return fwrite(buf, 1, len, hf->f) == len ? 0 : -1;
}

static void tail_bytes(unsigned char t[MIST_CHECKSUM_TAIL], uint64_t h)
{
    t[0] = 0xa8; /* fixstr of 8 */
    memcpy(t + 1, MIST_CHECKSUM_KEY, 8);
    t[9] = 0xcf; /* uint64, whatever the value: the tail has one length */
    for (int i = 0; i < 8; i++) t[10 + i] = (unsigned char)(h >> (56 - 8 * i));
}

int mist_hashed_write_tail(mist_hashed_file *hf)
{
    unsigned char t[MIST_CHECKSUM_TAIL];
    tail_bytes(t, hf->h);
    return fwrite(t, 1, sizeof t, hf->f) == sizeof t ? 0 : -1;
}

int mist_checksum_verify(const void *buf, size_t len, const char *name, const char *what,
                         mist_err *err)
{
    const unsigned char *b = buf;
    unsigned char want[MIST_CHECKSUM_TAIL];
    if (len < MIST_CHECKSUM_TAIL + 1)
        return mist_fail(err, MIST_EFORMAT, "'%s': the %s's checksum is misplaced", name, what);
    const unsigned char *t = b + len - MIST_CHECKSUM_TAIL;
    uint64_t stored = 0;
    for (int i = 0; i < 8; i++) stored = stored << 8 | t[10 + i];
    tail_bytes(want, stored);
    if (memcmp(t, want, MIST_CHECKSUM_TAIL) != 0)
        return mist_fail(err, MIST_EFORMAT,
                         "'%s': the %s's checksum is not its last entry in the fixed form: the "
                         "file was altered",
                         name, what);
    uint64_t h = mist_fnv1a64(MIST_FNV1A64_INIT, b, len - MIST_CHECKSUM_TAIL);
    if (h != stored)
        return mist_fail(err, MIST_EFORMAT,
                         "'%s': checksum mismatch: the %s is corrupted (stored %016llx, computed "
                         "%016llx)",
                         name, what, (unsigned long long)stored, (unsigned long long)h);
    return MIST_OK;
}
