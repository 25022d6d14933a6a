/* What `mist gen --list` prints: every base, structure, transform and suite with its
 * parameters and default ranges. */
#include "mist_gen.h"

#define LIST(name, arr)                                                                          \
    const mist_catalog_entry *name(size_t *count)                                                \
    {                                                                                            \
        *count = sizeof arr / sizeof arr[0];                                                     \
        return arr;                                                                              \
    }

static const mist_catalog_entry BASES[] = {
    {"normal", "multivariate Gaussian, covariance S from the structure; MI = 1/2 log(|Sxx||Syy|/|S|)"},
    {"student", "multivariate Student-t, dispersion S, one chi-square per row; nu ~ U(1, 10); "
                "MI = MI_normal(S) + c(nu, dx, dy)"},
    {"additive", "X ~ U(0,1)^d, Y = X + U(-eps_j, eps_j) per coordinate (dx = dy); eps (all) or "
                 "eps1..epsD ~ U(0.1, 2); name: additive[-TRANSFORM]"},
    {"channel", "Y = f(X) + sigma N with non-monotone f per coupled pair (structures sine, bumps; "
                "see families)"},
    {"mixture", "Gaussian mixtures, MI by Monte Carlo (structures xshape, random; see families)"},
    {"categorical", "discrete and mixed variables, values 0..K-1 (structures gauss, softmax, "
                    "channel, binary; see families)"},
};
static const mist_catalog_entry STRUCTURES[] = {
    {"dense", "equicorrelation c over all coordinates; c ~ U(0, 0.5) (1x1: U(-0.9, 0.9)); "
              "needs -1/(dx+dy-1) < c < 1"},
    {"sparse", "K paired coordinates, corr(X_i, Y_i) = s^2/(1+s^2); K ~ U{1..min(dx,dy)}, "
               "strength ~ U(0.1, 5); K = 0 gives MI 0"},
    {"2pair", "sparse with K = 2; strength ~ U(0.1, 5); needs dx, dy >= 2"},
    {"lvm", "latent-variable model: K ~ U{1..min}, alpha ~ U(0,1), beta ~ U(0,1.5), "
            "lambda ~ U(0.1,3), eta ~ U(0.1,5)"},
    {"identity", "S = I (student: MI is the Student correction alone; normal: MI 0)"},
};
static const mist_catalog_entry TRANSFORMS[] = {
    {"base", "identity"},
    {"normal_cdf", "Phi(x), per coordinate"},
    {"halfcube", "x sqrt|x|, per coordinate"},
    {"asinh", "asinh(x), per coordinate"},
    {"wiggly", "x + 0.4 sin x + ... on X, y - 0.4 sin 0.4y + ... on Y (strictly increasing)"},
    {"bimodal", "inverse CDF of a two-normal mixture applied to Phi(x), per coordinate"},
    {"spiral", "rotation by ||v||^2/dim in plane (0,1) of X (dx >= 2), (1,2) of Y (dy >= 3)"},
    {"swissroll", "dx = 1 only, after normal_cdf: x -> (t cos t, t sin t)/21, t = 1.5 pi (1+2x); "
                  "the dataset gets dx = 2"},
};
static const mist_catalog_entry SUITES[] = {
    {"mist-imd", "MIST in-meta-distribution protocol: 6 families x 20 n in 10..500 x 9 datasets "
                 "(1,080), dx = dy = d ~ U{2..32} per (n, family)"},
    {"mist-oomd", "MIST out-of-meta-distribution protocol: 7 families, 1,260 datasets"},
    {"mist-imd-official", "the official MIST IMD test tasks (seed 90 of the MIST generator): "
                          "1,080 datasets, exact dims, n and parameters; new samples per --seeds"},
    {"mist-oomd-official", "the official MIST OoMD test tasks: 1,260 datasets, as above"},
    {"new-families", "held out: the families `broad` added (non-monotone channels, Gaussian "
                     "mixtures, discrete/mixed, high MI 4-9 nats), 18 tasks x n 100, 500, 2000 x "
                     "10 datasets (540)"},
    {"bmi40", "the 40 tasks of the BMI benchmark (Czyz et al. 2023); --n (default 10000), "
              "--seeds"},
    {"smoke", "6 tiny tasks for tests; --n (default 200)"},
};

LIST(mist_gen_bases, BASES)
LIST(mist_gen_structures, STRUCTURES)
LIST(mist_gen_transforms, TRANSFORMS)
LIST(mist_gen_suites, SUITES)
