/* mist estimate's guard output: the stderr warnings and the JSON "guard" object (the checks
 * themselves are the library's, infer/guard.c). */
#include <math.h>
#include <stdio.h>

#include "cli.h"
#include "estimate_guard.h"

/* "x3" / "y1": the column's place within its block, 1-based (as the classical messages). */
static void col_label(char *buf, size_t len, int j, int dx)
{
    if (j < dx) snprintf(buf, len, "x%d", j + 1);
    else snprintf(buf, len, "y%d", j - dx + 1);
}

static const char *answer_words(int answer)
{
    switch (answer) {
    case MIST_GUARD_ANSWER_KSG1: return "KSG's estimate";
    case MIST_GUARD_ANSWER_GAUSSIAN_COPULA: return "the Gaussian copula's estimate";
    case MIST_GUARD_ANSWER_DISCRETE: return "the plug-in MI of the discrete table";
    case MIST_GUARD_ANSWER_GAUSSIAN: return "the Gaussian MI of the rows (bias-corrected)";
    case MIST_GUARD_ANSWER_MIXED:
        return "the discrete-continuous nearest-neighbour estimate (Ross)";
    default: return "the model's median";
    }
}

/* "the model's 90% interval [a, b]", or "the model's estimate a" for a point model. */
static const char *model_words(char *buf, size_t len, double lo, double hi)
{
    if (lo == hi) snprintf(buf, len, "the model's estimate %.3f", lo);
    else snprintf(buf, len, "the model's 90%% interval [%.3f, %.3f]", lo, hi);
    return buf;
}

static const char *xcheck_words(const mist_guard_result *r, const mist_guard_xcheck *x)
{
    return x == &r->ksg1 ? "KSG's" : "the Gaussian copula's";
}

void guard_warn(const mist_guard_result *r, const mist_guard_model *m, size_t n, int dx, int dy,
                int fallback)
{
    if (!r->reasons) return;
    const mist_guard_xcheck *K = &r->ksg1, *G = &r->gaussian_copula;
    if (r->reasons & MIST_GUARD_N_RANGE)
        fprintf(stderr,
                "mist: warning: n = %zu is outside the range the model was trained on "
                "(%lld..%lld): its estimate may be biased and its interval is not calibrated "
                "there\n",
                n, (long long)m->n_min, (long long)m->n_max);
    if (r->reasons & MIST_GUARD_DIM_RANGE)
        fprintf(stderr,
                "mist: warning: dx = %d, dy = %d are outside the dims the model was trained on "
                "(%lld..%lld each)\n",
                dx, dy, (long long)m->d_min, (long long)m->d_max);
    if (r->reasons & MIST_GUARD_MI_RANGE) {
        int blo = 0, bhi = 0;
        char dims[32];
        mist_guard_mi_bucket_dims(mist_guard_mi_bucket(dx, dy), &blo, &bhi);
        if (blo == bhi) snprintf(dims, sizeof dims, "= %d", blo);
        else snprintf(dims, sizeof dims, "in %d..%d", blo, bhi);
        fprintf(stderr,
                "mist: warning: the model's estimate %.3f lies above the MI it was trained on at "
                "these dims (99.9%% of its training tasks with min(dx, dy) %s have MI <= %.3f "
                "nats): it extrapolates there (and saturates on high MI)\n",
                m->median, dims, r->mi_max);
    }
    if (r->reasons & MIST_GUARD_DISCRETE) {
        char lab[24];
        col_label(lab, sizeof lab, r->discrete_col, dx);
        fprintf(stderr,
                "mist: warning: column %s takes only %zu distinct value%s: the model was trained "
                "on continuous data (discrete or binary variables?)\n",
                lab, r->discrete_levels, r->discrete_levels == 1 ? "" : "s");
    }
    double lo = fmin(m->lower, m->upper), hi = fmax(m->lower, m->upper);
    char mw[96];
    /* with BELOW the answer is the cross-check whose lower end sits above the model */
    if (r->reasons & MIST_GUARD_BELOW) {
        const mist_guard_xcheck *x = r->answer == MIST_GUARD_ANSWER_KSG1              ? K
                                     : r->answer == MIST_GUARD_ANSWER_GAUSSIAN_COPULA ? G
                                     : !G->ok || (K->ok && K->lower > G->lower)        ? K
                                                                                      : G;
        fprintf(stderr,
                "mist: warning: %s lies below %s 90%% interval [%.3f, %.3f]: the data may be "
                "unlike the model's training data (non-monotone dependence, permuted or mixed "
                "columns, very high MI?)\n",
                model_words(mw, sizeof mw, lo, hi), xcheck_words(r, x), x->lower, x->upper);
    }
    if (r->reasons & MIST_GUARD_ABOVE) {
        fprintf(stderr, "mist: warning: %s lies far above ", model_words(mw, sizeof mw, lo, hi));
        if (K->ok)
            fprintf(stderr, "KSG's [%.3f, %.3f]%s", K->lower, K->upper, G->ok ? " and " : "");
        if (G->ok) fprintf(stderr, "the Gaussian copula's [%.3f, %.3f]", G->lower, G->upper);
        fprintf(stderr, ": the data may be unlike the model's training data (a negated column, "
                        "discrete values?)\n");
    }
    if (r->reasons & MIST_GUARD_GAUSSIAN_FIT)
        fprintf(stderr,
                "mist: note: the rows look jointly Gaussian (Mardia's tests: skewness p = %.2g, "
                "kurtosis p = %.2g) and their Gaussian MI %.3f [%.3f, %.3f] is not below KSG's "
                "%.3f: for Gaussian data it is the efficient estimate (the model reads ranks "
                "only)\n",
                r->normal_p_skew, r->normal_p_kurt, r->gaussian.estimate, r->gaussian.lower,
                r->gaussian.upper, K->estimate);
    if (r->reasons & MIST_GUARD_NONMONOTONE)
        fprintf(stderr,
                "mist: warning: KSG's estimate %.3f [%.3f, %.3f] lies above the Gaussian "
                "copula's 90%% interval [%.3f, %.3f]: a dependence that ranks miss (non-monotone, "
                "mixtures?), which every estimate here reads low (the answer takes the higher "
                "of the model's and KSG's readings; the interval reaches up to %.3f)\n",
                K->estimate, K->lower, K->upper, G->lower, G->upper, r->upper);
    if (r->reasons == MIST_GUARD_GAUSSIAN_FIT && fallback)
        fprintf(stderr,
                "mist: note: answering with %s %.3f and the 90%% interval [%.3f, %.3f] (it "
                "covers %s and the Gaussian one); --guard warn keeps the model's answer\n",
                answer_words(r->answer), r->estimate, r->lower, r->upper,
                model_words(mw, sizeof mw, lo, hi));
    else if (fallback && r->answer == MIST_GUARD_ANSWER_DISCRETE)
        fprintf(stderr,
                "mist: warning: every column is discrete: answering with %s %.3f and its 90%% "
                "interval [%.3f, %.3f] (bias-corrected); --guard warn keeps the model's "
                "answer\n",
                answer_words(r->answer), r->estimate, r->lower, r->upper);
    else if (fallback && r->answer == MIST_GUARD_ANSWER_MIXED)
        fprintf(stderr,
                "mist: warning: one block is discrete and the other continuous: answering with "
                "%s %.3f and its 90%% interval [%.3f, %.3f]; --guard warn keeps the model's "
                "answer\n",
                answer_words(r->answer), r->estimate, r->lower, r->upper);
    else if (fallback)
        fprintf(stderr,
                "mist: warning: answering with %s %.3f and the 90%% interval [%.3f, %.3f] "
                "(it covers %s%s); --guard warn keeps the model's answer\n",
                answer_words(r->answer), r->estimate, r->lower, r->upper,
                model_words(mw, sizeof mw, lo, hi),
                r->answer == MIST_GUARD_ANSWER_WIDENED ? " and the classical intervals"
                                                       : " and the classical interval used");
    else
        fprintf(stderr, "mist: warning: keeping the model's answer (--guard warn); the fallback "
                        "would answer %.3f [%.3f, %.3f]\n",
                r->estimate, r->lower, r->upper);
}

static void json_xcheck(const mist_guard_xcheck *x, int gaussian)
{
    if (!x->ok) {
        printf("{\"ok\": false, \"error\": ");
        mist_json_put_string(stdout, x->note);
        printf("}");
        return;
    }
    printf("{\"ok\": true, \"estimate\": ");
    mist_json_put_number(stdout, x->estimate);
    printf(", \"lower\": ");
    mist_json_put_number(stdout, x->lower);
    printf(", \"upper\": ");
    mist_json_put_number(stdout, x->upper);
    printf(", \"se\": ");
    mist_json_put_number(stdout, x->se);
    printf(", \"ci\": 0.9%s}", gaussian ? ", \"bias_corrected\": true" : "");
}

void guard_json(const mist_guard_result *r, const mist_guard_model *m, int dx, int fallback)
{
    printf("\"guard\": {\"mode\": \"%s\", \"status\": \"%s\", \"reasons\": [",
           fallback ? "fallback" : "warn", r->reasons ? "warn" : "ok");
    int first = 1;
    for (int i = 0; i < MIST_GUARD_REASON_COUNT; i++)
        if (r->reasons & (1u << i)) {
            printf("%s\"%s\"", first ? "" : ", ", mist_guard_reason_name(1u << i));
            first = 0;
        }
    printf("], \"model\": {\"estimate\": ");
    mist_json_put_number(stdout, m->median);
    printf(", \"lower\": ");
    mist_json_put_number(stdout, fmin(m->lower, m->upper));
    printf(", \"upper\": ");
    mist_json_put_number(stdout, fmax(m->lower, m->upper));
    printf(", \"ci\": 0.9}, \"cross_check\": {\"ksg1\": ");
    json_xcheck(&r->ksg1, 0);
    printf(", \"gaussian_copula\": ");
    json_xcheck(&r->gaussian_copula, 1);
    printf(", \"gaussian\": ");
    json_xcheck(&r->gaussian, 1);
    printf(", \"mixed\": ");
    json_xcheck(&r->mixed, 0);
    printf(", \"normality_p\": {\"skewness\": ");
    mist_json_put_number(stdout, r->normal_p_skew);
    printf(", \"kurtosis\": ");
    mist_json_put_number(stdout, r->normal_p_kurt);
    printf("}, \"rows\": %zu}, \"trained\": {\"n\": [%lld, %lld], \"d\": [%lld, %lld], "
           "\"metadist\": ",
           r->distinct_rows, (long long)m->n_min, (long long)m->n_max, (long long)m->d_min,
           (long long)m->d_max);
    if (m->metadist[0]) mist_json_put_string(stdout, m->metadist);
    else printf("null");
    printf(", \"mi_max\": ");
    mist_json_put_number(stdout, r->mi_max);
    printf("}, \"discrete\": ");
    if (r->discrete_col >= 0) {
        char lab[24];
        col_label(lab, sizeof lab, r->discrete_col, dx);
        printf("{\"column\": \"%s\", \"levels\": %zu}", lab, r->discrete_levels);
    } else
        printf("null");
    printf(", \"fallback\": ");
    if (!r->reasons) {
        printf("null}");
        return;
    }
    printf("{\"answer\": \"%s\", \"applied\": %s, \"estimate\": ", mist_guard_answer_name(r->answer),
           fallback ? "true" : "false");
    mist_json_put_number(stdout, r->estimate);
    printf(", \"lower\": ");
    mist_json_put_number(stdout, r->lower);
    printf(", \"upper\": ");
    mist_json_put_number(stdout, r->upper);
    printf(", \"ci\": 0.9}}");
}
