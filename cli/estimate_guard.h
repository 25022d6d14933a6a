/* mist estimate's guard output (estimate_guard.c). */
#ifndef MIST_CLI_ESTIMATE_GUARD_H
#define MIST_CLI_ESTIMATE_GUARD_H

#include <stddef.h>

#include "mist_guard.h"

/* One stderr line per reason, then one on the answer (fallback: the guard's; else the model's
 * kept). Nothing when there is no reason. */
void guard_warn(const mist_guard_result *r, const mist_guard_model *m, size_t n, int dx, int dy,
                int fallback);
/* The "guard": {...} member of mist estimate's JSON object (no separators around it). */
void guard_json(const mist_guard_result *r, const mist_guard_model *m, int dx, int fallback);

#endif
