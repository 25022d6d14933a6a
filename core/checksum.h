/* The checksum of a msgpack file (weights, checkpoints): FNV-1a 64 over every byte of the file
 * before a fixed 18-byte tail entry "checksum": uint64 (str8 key, then 0xcf and the value
 * big-endian, always that long), which the writer packs as the root map's last entry. FNV-1a
 * detects every change of one byte (each step is a bijection of the running state), so any
 * single flipped bit in the arch, the tensors or the meta is caught. Internal: not installed. */
#ifndef MIST_CHECKSUM_H
#define MIST_CHECKSUM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "mist_core.h"

#define MIST_FNV1A64_INIT 0xcbf29ce484222325ULL
#define MIST_CHECKSUM_KEY "checksum"
#define MIST_CHECKSUM_TAIL 18 /* 0xa8 "checksum" 0xcf + 8 bytes */

uint64_t mist_fnv1a64(uint64_t h, const void *p, size_t n);

/* A msgpack write callback (msgpack_packer_init(&pk, &hf, mist_hashed_write)) that writes to
 * f and hashes what it writes. */
typedef struct mist_hashed_file {
    FILE *f;
    uint64_t h;
} mist_hashed_file;
int mist_hashed_write(void *data, const char *buf, size_t len);
/* Writes the tail entry for the bytes hashed so far (count the entry in the root map). */
int mist_hashed_write_tail(mist_hashed_file *hf);

/* The root map of buf (len bytes, already proven one sane msgpack object) has a "checksum"
 * key (has_key, found by the caller's decoder): verify it. The entry must be the tail in its
 * fixed form and the hash of the bytes before it must match; else MIST_EFORMAT naming `name`
 * and `what` ("weights file", "checkpoint"). */
int mist_checksum_verify(const void *buf, size_t len, const char *name, const char *what,
                         mist_err *err);

#endif
