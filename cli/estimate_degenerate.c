/* Constant sides: the one case where the data settle the estimate. A constant column carries no
 * information, so when all of X (or all of Y) is constant, the MI of these rows is 0. The answer
 * is printed as such, marked exact, instead of an estimator's number: the learned model
 * extrapolates wildly there (it never saw such data) and KSG gives noise around 0. The
 * distribution the rows came from may still hold a value of X the rows never show (a rare
 * class): the interval's upper end says how much MI that could hide (mist_constant_side_upper). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "estimate_degenerate.h"

int estimate_constant_side(const mist_dataset *ds, char *why, size_t whysz, int *constant_col)
{
    int sides = mist_constant_sides(ds->data, ds->n, ds->dx, ds->dy, constant_col);
    int all_x = sides & MIST_CONSTANT_X, all_y = sides & MIST_CONSTANT_Y;
    if (!all_x && !all_y) return 0;
    int d = all_x ? ds->dx : ds->dy;
    snprintf(why, whysz, "%s%s is constant", all_x && all_y ? "every column" : d > 1 ? "every " : "",
             all_x && all_y ? "" : all_x ? (d > 1 ? "X column" : "X") : (d > 1 ? "Y column" : "Y"));
    return 1;
}

void estimate_print_exact_zero(const char *method, const mist_dataset *ds, const char *why,
                               double ci, int json)
{
    double up = mist_constant_side_upper(ds->n, ci);
    fprintf(stderr,
            "mist: note: %s: a constant carries no information, so I(X;Y) = 0 exactly in these "
            "rows; no estimator was run. The interval's upper end %.3g %s is what a value the "
            "rows never show (one, of probability at most %.3g at %g%%) could hold\n",
            why, cli_mi(up), cli_unit(), mist_constant_side_unseen(ds->n, ci), 100 * (1 + ci) / 2);
    if (json) {
        printf("{\"method\": ");
        mist_json_put_string(stdout, method);
        printf(", \"estimate\": 0, \"lower\": 0, \"upper\": ");
        mist_json_put_number(stdout, cli_mi(up));
        printf(", \"ci\": ");
        mist_json_put_number(stdout, ci);
        printf(", \"exact\": true, \"note\": ");
        char note[160];
        snprintf(note, sizeof note, "%s: I(X;Y) = 0 exactly in these rows", why);
        mist_json_put_string(stdout, note);
        printf(", \"n\": %zu, \"dx\": %d, \"dy\": %d, \"unit\": \"%s\", \"true_mi\": ", ds->n,
               ds->dx, ds->dy, cli_unit());
        mist_json_put_number(stdout, cli_mi(ds->meta.mi));
        printf("}\n");
        return;
    }
    printf("%s: 0 %s (exact: %s)  [0, %.6f] %g%% interval  (n = %zu, dx = %d, dy = %d)\n", method,
           cli_unit(), why, cli_mi(up), 100 * ci, ds->n, ds->dx, ds->dy);
    if (isfinite(ds->meta.mi))
        printf("true MI (from the file's metadata): %.6f %s\n", cli_mi(ds->meta.mi), cli_unit());
}
