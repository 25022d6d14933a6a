/* The one option parser of every `mist` command: each command declares its options in a table
 * and switches on the id cli_opts_next returns. Accepted forms: `--opt value`, `--opt=value`,
 * a short alias (`-o value`), flags (`--json`), positional arguments (anything else, and `-`
 * for standard input) and `--` (everything after it is positional). Errors (an unknown option,
 * a missing value, a value given to a flag) are printed naming the option and the command. */
#ifndef MIST_CLI_OPTS_H
#define MIST_CLI_OPTS_H

typedef struct cli_opt {
    int id;            /* > 0; returned by cli_opts_next */
    const char *name;  /* "--dx" */
    const char *alias; /* "-o", another long name ("--output"), or NULL */
    int has_value;     /* 1: takes a value; 0: a flag */
} cli_opt;

enum {
    CLI_OPT_END = 0,    /* no more arguments */
    CLI_OPT_ARG = -1,   /* a positional argument, in *value */
    CLI_OPT_ERROR = -2, /* a message was printed; exit 2 */
    CLI_OPT_HELP = -3   /* -h or --help (never in a table) */
};

typedef struct cli_parser {
    const char *cmd;      /* "estimate", "train calibrate": prefixes the messages */
    const cli_opt *opts;  /* terminated by an entry with id 0 */
    int argc;
    char **argv;
    int i;                /* the next argument (starts at 1: argv[0] is the command) */
    int only_args;        /* after `--` */
    const char *opt;      /* the option just returned, as written before any '=' */
} cli_parser;

void cli_opts_init(cli_parser *p, const char *cmd, const cli_opt *opts, int argc, char **argv);

/* The next option's id (its value, if it takes one, in *value), CLI_OPT_ARG with the argument
 * in *value, CLI_OPT_HELP, CLI_OPT_END, or CLI_OPT_ERROR after printing why. */
int cli_opts_next(cli_parser *p, const char **value);

/* Prints "mist: CMD: bad value for OPT: 'VALUE'" and, when want is not NULL, "(want WANT)";
 * returns 2 (the exit code of a usage error). */
int cli_opts_bad(const cli_parser *p, const char *value, const char *want);

/* Prints "mist: CMD: unexpected argument 'ARG'"; returns 2. */
int cli_opts_extra(const cli_parser *p, const char *arg);

#endif
