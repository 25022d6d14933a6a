/* The thread fan-out of the estimators and the trainer (core/util.h). Kept apart from util.c so
 * that only this file needs pthreads. */
#include <pthread.h>
#include <stdlib.h>

#include "util.h"

/* The most threads at once (callers cap their counts below this; jobs beyond it run on the
 * calling thread, so none is ever dropped). */
#define FAN_MAX 256

void mist_fan_out(void *(*fn)(void *), void *jobs, size_t stride, int T)
{
    char *base = jobs;
    int nth = T < FAN_MAX ? T : FAN_MAX;
    pthread_t tid[FAN_MAX];
    unsigned char started[FAN_MAX] = {0};
    for (int t = 1; t < nth; t++)
        started[t] = pthread_create(&tid[t], NULL, fn, base + (size_t)t * stride) == 0;
    fn(base);
    for (int t = nth; t < T; t++) fn(base + (size_t)t * stride);
    for (int t = 1; t < nth; t++) {
        if (started[t]) pthread_join(tid[t], NULL);
        else fn(base + (size_t)t * stride);
    }
}
