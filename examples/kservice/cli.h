/*
 * The command line of kservice: one table of options, one of commands.
 *
 * Every option is declared once in cli.c (its name and the placeholder of
 * its value); a command lists the options it takes as a bit set.  The
 * parser gives each mistake its own message, naming the option and the
 * command's usage: a missing value, an unknown option, an option that
 * belongs to another command, a stray argument.  `kservice COMMAND --help`
 * prints that command's usage.  Plain C99, so the same parser runs on
 * Linux and in the mingw-w64 build (no getopt_long needed).
 */
#ifndef KSERVICE_CLI_H
#define KSERVICE_CLI_H

#include <stdio.h>

/* Exit statuses, one per class of failure so scripts can tell them apart. */
enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_FAILURE = 1,
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_REFUSED = 3,
    CLI_EXIT_NOT_ELEVATED = 4,
    CLI_EXIT_KERNEL_MISSING = 5,
    CLI_EXIT_PRECHECK = 6,
    CLI_EXIT_BUSY = 7,
    CLI_EXIT_DAMAGED = 8,
    CLI_EXIT_BAD_INPUT = 9,
    CLI_EXIT_IN_DOUBT = 10
};

/* Every option of every command. */
enum cli_option {
    /* global: before or after the command */
    OPT_ROOT,
    OPT_MOCK_ELEVATED,
    OPT_LOCK_TIMEOUT,
    OPT_HELP,
    /* init-mock */
    OPT_OS_BUILD,
    OPT_ARCH, /* also make-kernel */
    OPT_WSL,
    OPT_REBOOT_PENDING,
    /* install */
    OPT_VERSION,
    OPT_ALLOW_DOWNGRADE,
    OPT_FORCE,
    OPT_SHA256,
    OPT_TRIES,
    /* status, verify */
    OPT_JSON,
    /* boot-path */
    OPT_RECORD,
    /* make-kernel */
    OPT_SIZE,
    /* boot: the rest of the command line is the command to run */
    OPT_EXEC,
    OPT_COUNT
};

#define OPT_BIT(option) (1u << (option))

/* The most positional arguments a command takes (make-kernel VERSION OUT). */
#define CLI_MAX_ARGS 2

struct cli;

/* One command: its name, what it takes, and the function that runs it. */
struct cli_command {
    const char *name;
    const char *alias;     /* another name, or NULL */
    int (*run)(struct cli *cli);
    unsigned options;      /* OPT_BIT()s of its own options */
    const char *arguments; /* its positional arguments for the usage, or NULL */
    int min_args;
    int max_args;
    const char *summary;   /* lines of the usage text, '\n' between them */
};

/* What the command line says. */
struct cli {
    const struct cli_command *command;
    /* The value of each option given ("" for a flag); NULL when absent. */
    const char *value[OPT_COUNT];
    const char *args[CLI_MAX_ARGS];
    int arg_count;
    /* --exec CMD...: the words after it, to run as they are. */
    char **rest;
    int rest_count;
    /* The global options, decoded. */
    const char *root;
    int not_elevated;
    unsigned lock_timeout_ms;
};

/* The lock wait without --lock-timeout: 10 s, as KSVC_OPEN_OPTIONS_INIT. */
#define CLI_DEFAULT_LOCK_TIMEOUT_MS 10000u

/* Parse argv against the @p count commands of @p commands into @p cli.
 * Returns -1 when the command should run, else the exit status to end
 * with (after --help, --version or a usage error, already printed). */
int cli_parse(int argc, char **argv, const struct cli_command *commands,
              size_t count, struct cli *cli);

/* Report a usage error of @p command (NULL: before any command) and return
 * CLI_EXIT_USAGE: "kservice: COMMAND: <message>", its usage line, a hint. */
int cli_usage_error(const struct cli_command *command, const char *format,
                    ...);

/* The name of an option ("--arch"). */
const char *cli_option_name(enum cli_option option);

#endif /* KSERVICE_CLI_H */
