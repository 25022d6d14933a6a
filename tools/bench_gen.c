/* Generator throughput: rows per second of mist_task_sample (in memory, one thread).
 * usage: bench_gen TASK DXxDY N [PARAM=V ...]; prints "TASK DXxDY n rows/s seconds". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mist_gen.h"
#include "util.h"

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: bench_gen TASK DXxDY N [k=v ...]\n");
        return 2;
    }
    int dx, dy;
    if (sscanf(argv[2], "%dx%d", &dx, &dy) != 2) return 2;
    size_t n = strtoull(argv[3], NULL, 10);
    mist_param params[8];
    size_t np = 0;
    for (int i = 4; i < argc && np < 8; i++, np++) {
        char *eq = strchr(argv[i], '=');
        if (!eq) return 2;
        snprintf(params[np].name, sizeof params[np].name, "%.*s", (int)(eq - argv[i]), argv[i]);
        params[np].value = atof(eq + 1);
    }
    mist_err err = {0};
    mist_task *t;
    if (mist_task_create(&t, argv[1], dx, dy, params, np, 1, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    size_t cols = (size_t)mist_task_out_dx(t) + mist_task_out_dy(t);
    double *buf = malloc(n * cols * sizeof *buf);
    double best = 1e30;
    for (int rep = 0; rep < 5; rep++) {
        double a = mist_clock_s();
        if (mist_task_sample(t, n, (uint64_t)rep, buf, &err)) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        double s = mist_clock_s() - a;
        if (s < best) best = s;
    }
    printf("%s %dx%d n=%zu rows/s=%.4g best_of_5=%.4f s\n", argv[1], dx, dy, n, n / best, best);
    free(buf);
    mist_task_free(t);
    return 0;
}
