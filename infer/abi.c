/* The layout of the public structs, for bindings that mirror them (python/mist/_lib.py with
 * ctypes): a mirror that drifts from the C struct reads the wrong bytes without any error, so
 * the Python tests compare every mirrored field's offset and every struct's size with these. */
#include <stddef.h>
#include <string.h>

#include "mist_classical.h"
#include "mist_core.h"
#include "mist_gen.h"
#include "mist_guard.h"
#include "mist_infer.h"

typedef struct abi_entry {
    const char *type, *field; /* field NULL: the struct's size */
    size_t value;
} abi_entry;

#define S(t) {#t, NULL, sizeof(t)}
#define F(t, f) {#t, #f, offsetof(t, f)}
static const abi_entry ABI[] = {
    S(mist_err),
    F(mist_err, code),
    F(mist_err, msg),
    S(mist_est_opts),
    F(mist_est_opts, k),
    F(mist_est_opts, zscore),
    F(mist_est_opts, noise),
    F(mist_est_opts, bins),
    F(mist_est_opts, miller_madow),
    F(mist_est_opts, bandwidth),
    F(mist_est_opts, copula),
    F(mist_est_opts, unbiased),
    F(mist_est_opts, seed),
    F(mist_est_opts, threads),
    F(mist_est_opts, bootstrap),
    F(mist_est_opts, ci),
    F(mist_est_opts, progress),
    F(mist_est_opts, progress_ctx),
    S(mist_est_result),
    F(mist_est_result, estimate),
    F(mist_est_result, lower),
    F(mist_est_result, upper),
    F(mist_est_result, n_boot_failed),
    S(mist_arch),
    F(mist_arch, input_layout),
    F(mist_arch, preprocess),
    F(mist_arch, max_input_dim),
    F(mist_arch, max_dx),
    F(mist_arch, max_dy),
    F(mist_arch, D),
    F(mist_arch, H),
    F(mist_arch, ff),
    F(mist_arch, n_inds),
    F(mist_arch, n_seeds),
    F(mist_arch, n_feature_sab),
    F(mist_arch, n_isab),
    F(mist_arch, n_dec),
    F(mist_arch, n_rho),
    F(mist_arch, rho_hidden),
    F(mist_arch, quantile_conditioned),
    F(mist_arch, activation),
    F(mist_arch, gauss_base),
    F(mist_arch, gauss_base_unbiased),
    F(mist_arch, ksg_feature),
    F(mist_arch, sign_canon),
    F(mist_arch, gauss_base_cap),
    F(mist_arch, sum_head),
    F(mist_arch, ln_eps),
    F(mist_arch, n_min),
    F(mist_arch, n_max),
    F(mist_arch, d_min),
    F(mist_arch, d_max),
    S(mist_guard_model),
    F(mist_guard_model, lower),
    F(mist_guard_model, median),
    F(mist_guard_model, upper),
    F(mist_guard_model, n_min),
    F(mist_guard_model, n_max),
    F(mist_guard_model, d_min),
    F(mist_guard_model, d_max),
    F(mist_guard_model, metadist),
    S(mist_guard_opts),
    F(mist_guard_opts, k),
    F(mist_guard_opts, seed),
    F(mist_guard_opts, threads),
    S(mist_guard_xcheck),
    F(mist_guard_xcheck, ok),
    F(mist_guard_xcheck, estimate),
    F(mist_guard_xcheck, lower),
    F(mist_guard_xcheck, upper),
    F(mist_guard_xcheck, se),
    F(mist_guard_xcheck, note),
    S(mist_guard_result),
    F(mist_guard_result, reasons),
    F(mist_guard_result, ksg1),
    F(mist_guard_result, gaussian_copula),
    F(mist_guard_result, mi_max),
    F(mist_guard_result, discrete_col),
    F(mist_guard_result, discrete_levels),
    F(mist_guard_result, answer),
    F(mist_guard_result, estimate),
    F(mist_guard_result, lower),
    F(mist_guard_result, upper),
    F(mist_guard_result, distinct_rows),
    F(mist_guard_result, gaussian),
    F(mist_guard_result, normal_p_skew),
    F(mist_guard_result, normal_p_kurt),
    F(mist_guard_result, mixed),
    S(mist_param),
    F(mist_param, name),
    F(mist_param, value),
    S(mist_meta),
    F(mist_meta, task),
    F(mist_meta, seed),
    F(mist_meta, has_seed),
    F(mist_meta, mi),
    F(mist_meta, params),
    F(mist_meta, nparams),
    F(mist_meta, generator_version),
    F(mist_meta, transform),
    F(mist_meta, transform_seed),
    S(mist_dataset),
    F(mist_dataset, n),
    F(mist_dataset, dx),
    F(mist_dataset, dy),
    F(mist_dataset, data),
    F(mist_dataset, meta),
    S(mist_task_spec),
    F(mist_task_spec, task),
    F(mist_task_spec, dx),
    F(mist_task_spec, dy),
    F(mist_task_spec, n),
    F(mist_task_spec, seed),
    F(mist_task_spec, params),
    F(mist_task_spec, nparams),
    F(mist_task_spec, id),
    F(mist_task_spec, transform),
};
#undef S
#undef F

long long mist_abi_layout(const char *type, const char *field)
{
    if (!type) return -1;
    for (size_t i = 0; i < sizeof ABI / sizeof ABI[0]; i++)
        if (!strcmp(ABI[i].type, type) &&
            (field ? ABI[i].field && !strcmp(ABI[i].field, field) : !ABI[i].field))
            return (long long)ABI[i].value;
    return -1;
}
