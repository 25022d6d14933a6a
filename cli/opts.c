#include "opts.h"

#include <string.h>

#include "cli.h"

void cli_opts_init(cli_parser *p, const char *cmd, const cli_opt *opts, int argc, char **argv)
{
    memset(p, 0, sizeof *p);
    p->cmd = cmd;
    p->opts = opts;
    p->argc = argc;
    p->argv = argv;
    p->i = 1;
}

/* The entry whose name or alias is the first len bytes of s. */
static const cli_opt *find(const cli_opt *opts, const char *s, size_t len)
{
    for (const cli_opt *o = opts; o->id; o++) {
        if (strlen(o->name) == len && !strncmp(o->name, s, len)) return o;
        if (o->alias && strlen(o->alias) == len && !strncmp(o->alias, s, len)) return o;
    }
    return NULL;
}

/* A near miss to suggest: the one option that starts with what was typed (--thread for
 * --threads), or the one the typed text starts with (--seedss). */
static const cli_opt *suggest(const cli_opt *opts, const char *s, size_t len)
{
    const cli_opt *hit = NULL;
    int hits = 0;
    for (const cli_opt *o = opts; o->id; o++) {
        size_t ol = strlen(o->name);
        if (len >= 4 && ((ol > len && !strncmp(o->name, s, len)) ||
                         (ol < len && ol >= 4 && !strncmp(o->name, s, ol))))
            hit = o, hits++;
    }
    return hits == 1 ? hit : NULL;
}

int cli_opts_next(cli_parser *p, const char **value)
{
    *value = NULL;
    p->opt = NULL;
    if (p->i >= p->argc) return CLI_OPT_END;
    const char *a = p->argv[p->i++];
    /* "-" alone is standard input; a negative number is a value, not an option */
    if (p->only_args || a[0] != '-' || a[1] == '\0' || (a[1] >= '0' && a[1] <= '9') ||
        a[1] == '.') {
        *value = a;
        return CLI_OPT_ARG;
    }
    if (!strcmp(a, "--")) {
        p->only_args = 1;
        return cli_opts_next(p, value);
    }
    if (!strcmp(a, "-h") || !strcmp(a, "--help")) return CLI_OPT_HELP;
    const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
    size_t len = eq ? (size_t)(eq - a) : strlen(a);
    const cli_opt *o = find(p->opts, a, len);
    p->opt = a;
    if (!o) {
        const cli_opt *s = suggest(p->opts, a, len);
        cli_error("%s: unknown option '%.*s'%s%s%s (run `mist %s --help`)", p->cmd, (int)len, a,
                  s ? " (did you mean " : "", s ? s->name : "", s ? "?)" : "", p->cmd);
        return CLI_OPT_ERROR;
    }
    p->opt = o->name;
    if (!o->has_value) {
        if (eq) {
            cli_error("%s: %s takes no value (got '%s')", p->cmd, o->name, eq + 1);
            return CLI_OPT_ERROR;
        }
        return o->id;
    }
    if (eq) {
        *value = eq + 1;
        return o->id;
    }
    /* the next argument is the value, unless it is missing or is itself an option of this
     * command (`--out --json`: the value was forgotten, not named "--json") */
    const char *v = p->i < p->argc ? p->argv[p->i] : NULL;
    if (v && v[0] == '-' && v[1] == '-') {
        const char *veq = strchr(v, '=');
        if (!strcmp(v, "--help") || find(p->opts, v, veq ? (size_t)(veq - v) : strlen(v)))
            v = NULL;
    }
    if (!v) {
        cli_error("%s: %s needs a value (run `mist %s --help`)", p->cmd, o->name, p->cmd);
        return CLI_OPT_ERROR;
    }
    p->i++;
    *value = v;
    return o->id;
}

int cli_opts_bad(const cli_parser *p, const char *value, const char *want)
{
    cli_error("%s: bad value for %s: '%s'%s%s%s", p->cmd, p->opt ? p->opt : "an option",
              value ? value : "", want ? " (want " : "", want ? want : "", want ? ")" : "");
    return 2;
}

int cli_opts_extra(const cli_parser *p, const char *arg)
{
    cli_error("%s: unexpected argument '%s' (run `mist %s --help`)", p->cmd, arg, p->cmd);
    return 2;
}
