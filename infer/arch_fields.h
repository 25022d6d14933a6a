/* THE table of the architecture's fields (mist_arch): name, override alias, type, offset, range.
 * The weights file's and the checkpoint's "arch" maps, `mist info`, the key=value overrides of
 * presets, the meta cross-check and the same-run comparison of checkpoints all walk it, so a new
 * field is added here once. Internal: not installed. */
#ifndef MIST_ARCH_FIELDS_H
#define MIST_ARCH_FIELDS_H

#include <stddef.h>

#include "mist_infer.h"

enum { AF_INT, AF_I64, AF_BOOL, AF_F64, AF_LAYOUT, AF_PREP, AF_ACT };

typedef struct arch_field {
    const char *name;  /* key in files, `mist info` and overrides */
    const char *alias; /* another override / meta key (NULL: none) */
    int type;
    size_t off;
    double lo, hi;     /* numeric range (AF_F64: lo < v <= hi; others lo <= v <= hi) */
    int trained;       /* 1: part of the trained range (informational, not of the graph) */
    int optional;      /* 1: newer than the format: absent means 0, and 0 is not written (so
                        * files of models without it keep their bytes and older readers) */
} arch_field;

extern const arch_field arch_field_tab[];
extern const size_t arch_field_n;

/* By name or alias (klen bytes of key, not NUL-terminated); NULL when unknown. */
const arch_field *arch_field_find(const char *key, size_t klen);
/* The value as a double (enums and bools as their code). */
double arch_field_value(const arch_field *f, const mist_arch *a);
/* Sets f of a from text (numbers strictly, enums by name, bools as 0/1/true/false),
 * range-checked; no other field changes. */
int arch_field_parse(const arch_field *f, mist_arch *a, const char *text, mist_err *err);
/* The value of f as text (enums by name). */
void arch_field_text(const arch_field *f, const mist_arch *a, char *buf, size_t bufsz);

/* One "key=value" override (a field's name or alias, or max_d for both maxima); max_dx, max_dy
 * and the layout also set what follows from them (the split layout's max_input_dim, d_max). */
int arch_override(mist_arch *a, const char *kv, mist_err *err);

/* The "arch" map of weights files and checkpoints (msgpack). arch_unpack fills every field
 * (each must be present once, known, of its type) and does not validate the whole. */
struct msgpack_packer;
struct msgpack_object;
int arch_pack(struct msgpack_packer *pk, const mist_arch *a);
int arch_unpack(const struct msgpack_object *o, mist_arch *a, const char *name, mist_err *err);

#endif
