/* OpenBLAS picks its matrix kernels from the CPU model at load time; a release that predates the
 * CPU (e.g. Debian 12's 0.3.21 on Sapphire/Emerald Rapids) falls back to its generic "Prescott"
 * SSE3 kernels, 3-4x slower than the AVX-512 ones the CPU can run. The choice can only be
 * changed through the environment before the library loads, so when that fallback is detected
 * on a CPU with AVX-512 (or AVX2+FMA), the command re-executes itself once with
 * OPENBLAS_CORETYPE=SkylakeX (Haswell). Nothing happens when OPENBLAS_CORETYPE is already set
 * (the user's choice wins) or MIST_NO_BLAS_TUNE is set; results do not depend on it beyond
 * float rounding. Kept apart from main.c: cblas.h and GSL headers do not mix. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

void cli_blas_tune(char **argv)
{
#if defined(__x86_64__) && defined(__GNUC__) && defined(__linux__)
    if (getenv("OPENBLAS_CORETYPE") || getenv("MIST_NO_BLAS_TUNE") || getenv("MIST_BLAS_TUNED"))
        return;
    const char *core = openblas_get_corename();
    if (!core || strcmp(core, "Prescott") != 0) return; /* OpenBLAS knows this CPU */
    __builtin_cpu_init();
    const char *want = NULL;
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
        __builtin_cpu_supports("avx512cd"))
        want = "SkylakeX";
    else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        want = "Haswell";
    if (!want) return;
    if (setenv("OPENBLAS_CORETYPE", want, 1) || setenv("MIST_BLAS_TUNED", want, 1)) return;
    execv("/proc/self/exe", argv);
    /* exec failed: carry on with the generic kernels */
    unsetenv("OPENBLAS_CORETYPE");
#else
    (void)argv;
#endif
}
