/* Default options of the classical estimators (the values documented in mist_classical.h). */
#include "mist_classical.h"

#include <string.h>

void mist_est_opts_default(mist_est_opts *o)
{
    if (!o) return;
    memset(o, 0, sizeof *o);
    o->k = 5;          /* the BMI benchmark setting */
    o->zscore = 1;
    o->noise = 1e-10;  /* far below any real resolution, enough to break exact distance ties */
    o->bins = 0;       /* 0: ceil(n^(1/(dx+dy+2))) per axis */
    o->miller_madow = 0;
    o->bandwidth = 0.0; /* 0: Scott's rule per space */
    o->copula = 0;
    o->unbiased = 0;
    o->seed = 0;
    o->threads = 1;
    o->bootstrap = 0;
    o->ci = 0.9;
}
