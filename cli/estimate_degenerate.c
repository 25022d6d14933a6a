/* Constant sides: the one case where the MI is known exactly from the data alone. A constant
 * column carries no information, so when all of X (or all of Y) is constant, X and Y are
 * independent and I(X;Y) = 0. The answer is printed as such, marked exact, instead of an
 * estimator's number: the learned model extrapolates wildly there (it never saw such data) and
 * KSG gives noise around 0. */
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
                               int json)
{
    fprintf(stderr, "mist: note: %s: a constant carries no information, so I(X;Y) = 0 exactly; "
                    "no estimator was run\n",
            why);
    if (json) {
        printf("{\"method\": ");
        mist_json_put_string(stdout, method);
        printf(", \"estimate\": 0, \"lower\": 0, \"upper\": 0, \"ci\": null, \"exact\": true, "
               "\"note\": ");
        char note[160];
        snprintf(note, sizeof note, "%s: I(X;Y) = 0 exactly", why);
        mist_json_put_string(stdout, note);
        printf(", \"n\": %zu, \"dx\": %d, \"dy\": %d, \"unit\": \"%s\", \"true_mi\": ", ds->n,
               ds->dx, ds->dy, cli_unit());
        mist_json_put_number(stdout, cli_mi(ds->meta.mi));
        printf("}\n");
        return;
    }
    printf("%s: 0 %s (exact: %s)  (n = %zu, dx = %d, dy = %d)\n", method, cli_unit(), why, ds->n,
           ds->dx, ds->dy);
    if (isfinite(ds->meta.mi))
        printf("true MI (from the file's metadata): %.6f %s\n", cli_mi(ds->meta.mi), cli_unit());
}
