/* Private to gen/: the map constructor behind mist_mipt_create, shared with mipt_dataset.c. */
#ifndef MIST_MIPT_INTERNAL_H
#define MIST_MIPT_INTERNAL_H

#include "mist_gen.h"

/* mist_mipt_create with the chain's steps numbered from first: a chain appended to a dataset
 * that carries first steps already draws what the whole chain at once would draw. */
int mist_mipt_create_from(mist_mipt **out, const char *name, int dx, int dy, uint64_t seed,
                          int first, mist_err *err);

#endif
