/*
 * The command line of kservice (see cli.h): the option table, the parser,
 * and the usage texts, all made from the tables so they cannot disagree.
 */
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <kservice/kservice.h>

struct option_spec {
    const char *name;
    const char *value; /* placeholder of its value; NULL for a flag */
};

static const struct option_spec option_table[OPT_COUNT] = {
    [OPT_ROOT] = { "--root", "ROOT" },
    [OPT_MOCK_ELEVATED] = { "--mock-elevated", "yes|no" },
    [OPT_LOCK_TIMEOUT] = { "--lock-timeout", "SECONDS" },
    [OPT_HELP] = { "--help", NULL },
    [OPT_OS_BUILD] = { "--os-build", "BUILD[.UBR]" },
    [OPT_ARCH] = { "--arch", "x64|arm64" },
    [OPT_WSL] = { "--wsl", "enabled|disabled" },
    [OPT_REBOOT_PENDING] = { "--reboot-pending", NULL },
    [OPT_VERSION] = { "--version", "V" },
    [OPT_ALLOW_DOWNGRADE] = { "--allow-downgrade", NULL },
    [OPT_FORCE] = { "--force", NULL },
    [OPT_SHA256] = { "--sha256", "HEX" },
    [OPT_JSON] = { "--json", NULL },
    [OPT_RECORD] = { "--record", NULL },
    [OPT_SIZE] = { "--size", "BYTES" },
    [OPT_TRIES] = { "--tries", "N" },
    [OPT_EXEC] = { "--exec", "CMD..." },
};

/* Options every command takes, before or after its name. */
#define GLOBAL_OPTIONS                                                        \
    (OPT_BIT(OPT_ROOT) | OPT_BIT(OPT_MOCK_ELEVATED) |                         \
     OPT_BIT(OPT_LOCK_TIMEOUT) | OPT_BIT(OPT_HELP))

/* The longest --lock-timeout: its milliseconds still fit an unsigned. */
#define MAX_LOCK_TIMEOUT_S 86400ul

static const char global_synopsis[] =
    "kservice [--root ROOT] [--mock-elevated=yes|no] [--lock-timeout SECONDS]";

static const char options_text[] =
    "options:\n"
    "  --root ROOT           service the simulated machine in folder ROOT\n"
    "                        (the POSIX mock backend; required off Windows)\n"
    "  --mock-elevated=no    act as a standard user on the simulated machine\n"
    "  --lock-timeout SECONDS\n"
    "                        wait up to SECONDS for another process that is\n"
    "                        servicing the machine (default 10; 0 fails at once)\n"
    "  --help, --version     this text (COMMAND --help: that command's), the\n"
    "                        version\n"
    "\n"
    "exit status: 0 success, 1 other failure, 2 usage error, 3 refused by\n"
    "the rollback policy, 4 administrator rights required, 5 kernel missing,\n"
    "6 pre-check failed, 7 another process is servicing, 8 a kernel file is\n"
    "damaged, 9 bad input (not a kernel image for this machine, a version\n"
    "that contradicts the image, a checksum mismatch, a registry value that\n"
    "cannot be read), 10 in doubt: interrupted after it may have taken\n"
    "effect; the next command completes or undoes it, as the message says\n";

const char *cli_option_name(enum cli_option option)
{
    return option_table[option].name;
}

/* " [--name VALUE]", or " [--mock-elevated=yes|no]" style for yes|no. */
static void print_option_synopsis(FILE *out, enum cli_option option)
{
    const struct option_spec *spec = &option_table[option];

    if (spec->value == NULL)
        fprintf(out, " [%s]", spec->name);
    else
        fprintf(out, " [%s %s]", spec->name, spec->value);
}

/* "NAME ARGS [OPTIONS]" of one command. */
static void print_command_synopsis(FILE *out, const struct cli_command *c)
{
    int option;

    fputs(c->name, out);
    if (c->arguments != NULL)
        fprintf(out, " %s", c->arguments);
    for (option = 0; option < OPT_COUNT; option++)
        if (c->options & OPT_BIT(option))
            print_option_synopsis(out, (enum cli_option)option);
}

/* The summary, each line indented by @p indent. */
static void print_summary(FILE *out, const char *summary, const char *indent)
{
    const char *line = summary;

    while (*line != '\0') {
        size_t len = strcspn(line, "\n");

        fprintf(out, "%s%.*s\n", indent, (int)len, line);
        line += len;
        if (*line == '\n')
            line++;
    }
}

static void print_command_usage_line(FILE *out, const struct cli_command *c)
{
    fputs("usage: kservice [GLOBAL OPTIONS] ", out);
    print_command_synopsis(out, c);
    fputc('\n', out);
}

/* `kservice COMMAND --help`. */
static void print_command_help(const struct cli_command *c)
{
    print_command_usage_line(stdout, c);
    print_summary(stdout, c->summary, "  ");
    if (c->alias != NULL)
        printf("  (also: kservice %s)\n", c->alias);
    printf("global options: %s\n", global_synopsis + strlen("kservice "));
    puts("Run 'kservice --help' for every command and the exit statuses.");
}

/* `kservice --help`. */
static void print_usage(const struct cli_command *commands, size_t count)
{
    size_t k;

    printf("usage: %s COMMAND [ARGS]\n", global_synopsis);
    puts("       kservice COMMAND --help");
    puts("\ncommands:");
    for (k = 0; k < count; k++) {
        fputs("  ", stdout);
        print_command_synopsis(stdout, &commands[k]);
        fputc('\n', stdout);
        print_summary(stdout, commands[k].summary, "                        ");
        if (commands[k].alias != NULL)
            printf("                        (also: %s)\n", commands[k].alias);
    }
    fputc('\n', stdout);
    fputs(options_text, stdout);
}

int cli_usage_error(const struct cli_command *command, const char *format,
                    ...)
{
    va_list args;

    fputs("kservice: ", stderr);
    if (command != NULL)
        fprintf(stderr, "%s: ", command->name);
    va_start(args, format);
    vfprintf(stderr, format, args);
    va_end(args);
    fputc('\n', stderr);
    if (command != NULL) {
        print_command_usage_line(stderr, command);
        fprintf(stderr, "Try 'kservice %s --help' for more information.\n",
                command->name);
    } else {
        fprintf(stderr, "usage: %s COMMAND [ARGS]\n", global_synopsis);
        fputs("Try 'kservice --help' for more information.\n", stderr);
    }
    return CLI_EXIT_USAGE;
}

/* ---- lookups ---- */

static int find_option(const char *name, size_t len)
{
    int option;

    if (len == 2 && strncmp(name, "-h", 2) == 0)
        return OPT_HELP;
    for (option = 0; option < OPT_COUNT; option++)
        if (strlen(option_table[option].name) == len &&
            strncmp(option_table[option].name, name, len) == 0)
            return option;
    return -1;
}

static const struct cli_command *find_command(const struct cli_command *commands,
                                              size_t count, const char *name)
{
    size_t k;

    for (k = 0; k < count; k++)
        if (strcmp(commands[k].name, name) == 0 ||
            (commands[k].alias != NULL && strcmp(commands[k].alias, name) == 0))
            return &commands[k];
    return NULL;
}

/* An argument that is an option rather than a value or a file name. */
static int looks_like_option(const char *arg)
{
    return arg[0] == '-' && arg[1] != '\0';
}

/* An argument that cannot be an option's value: a long option. */
static int is_long_option(const char *arg)
{
    return arg[0] == '-' && arg[1] == '-';
}

/* "--json goes with: status, verify" for an option of other commands. */
static int misplaced_option(const struct cli_command *command,
                            const struct cli_command *commands, size_t count,
                            int option)
{
    char owners[256] = "";
    size_t k;

    for (k = 0; k < count; k++) {
        if (!(commands[k].options & OPT_BIT(option)))
            continue;
        if (owners[0] != '\0')
            strncat(owners, ", ", sizeof owners - strlen(owners) - 1);
        strncat(owners, commands[k].name, sizeof owners - strlen(owners) - 1);
    }
    if (command == NULL)
        return cli_usage_error(NULL, "option %s belongs after its command "
                               "(%s), not before it",
                               option_table[option].name, owners);
    return cli_usage_error(command, "option %s does not go with %s; it goes "
                           "with: %s",
                           option_table[option].name, command->name, owners);
}

/* ---- parsing ---- */

struct parse {
    const struct cli_command *commands;
    size_t count;
    int argc;
    char **argv;
    int i; /* the argument being read */
};

/* Take the option at argv[p->i] (moving past a separate value) for
 * @p command (NULL before the command).  Returns -1 or a usage status. */
static int take_option(struct parse *p, const struct cli_command *command,
                       struct cli *cli)
{
    const char *arg = p->argv[p->i];
    const char *equals = strchr(arg, '=');
    size_t len = equals != NULL ? (size_t)(equals - arg) : strlen(arg);
    int option = find_option(arg, len);
    const struct option_spec *spec;

    if (option < 0)
        return cli_usage_error(command, "unknown option %.*s", (int)len, arg);
    spec = &option_table[option];
    if (!(GLOBAL_OPTIONS & OPT_BIT(option)) &&
        (command == NULL || !(command->options & OPT_BIT(option))))
        return misplaced_option(command, p->commands, p->count, option);
    /* --exec: every word after it belongs to the command it runs. */
    if (option == OPT_EXEC) {
        if (equals != NULL || p->i + 1 >= p->argc)
            return cli_usage_error(command, "option %s needs the command to "
                                   "run after it: %s CMD [ARGS...]",
                                   spec->name, spec->name);
        cli->value[option] = "";
        cli->rest = p->argv + p->i + 1;
        cli->rest_count = p->argc - p->i - 1;
        p->i = p->argc - 1;
        return -1;
    }
    if (spec->value == NULL && equals != NULL)
        return cli_usage_error(command, "option %s takes no value", spec->name);
    if (spec->value == NULL)
        cli->value[option] = "";
    else if (equals != NULL)
        cli->value[option] = equals + 1;
    else if (p->i + 1 < p->argc && !is_long_option(p->argv[p->i + 1]))
        cli->value[option] = p->argv[++p->i];
    else
        return cli_usage_error(command, "option %s needs a value: %s %s",
                               spec->name, spec->name, spec->value);
    return -1;
}

/* Decode --root, --mock-elevated and --lock-timeout. */
static int decode_globals(const struct cli_command *command, struct cli *cli)
{
    const char *elevated = cli->value[OPT_MOCK_ELEVATED];
    const char *timeout = cli->value[OPT_LOCK_TIMEOUT];

    cli->root = cli->value[OPT_ROOT];
    if (cli->root != NULL && cli->root[0] == '\0')
        return cli_usage_error(command, "--root needs a folder, not an "
                               "empty name");
    if (elevated != NULL && strcmp(elevated, "yes") != 0 &&
        strcmp(elevated, "no") != 0)
        return cli_usage_error(command, "--mock-elevated takes yes or no, "
                               "not '%s'", elevated);
    cli->not_elevated = elevated != NULL && strcmp(elevated, "no") == 0;
    cli->lock_timeout_ms = CLI_DEFAULT_LOCK_TIMEOUT_MS;
    if (timeout != NULL) {
        char *end;
        unsigned long seconds;

        errno = 0;
        seconds = strtoul(timeout, &end, 10);
        if (timeout[0] < '0' || timeout[0] > '9' || *end != '\0' ||
            errno == ERANGE || seconds > MAX_LOCK_TIMEOUT_S)
            return cli_usage_error(command, "--lock-timeout takes whole "
                                   "seconds from 0 (fail at once) to %lu, "
                                   "not '%s'", MAX_LOCK_TIMEOUT_S, timeout);
        cli->lock_timeout_ms = (unsigned)seconds * 1000u;
    }
    return -1;
}

/* `--help` anywhere after the command (before a "--"). */
static int asks_for_help(const struct parse *p)
{
    int k;

    for (k = p->i; k < p->argc && strcmp(p->argv[k], "--") != 0 &&
                   strcmp(p->argv[k], "--exec") != 0;
         k++)
        if (strcmp(p->argv[k], "--help") == 0 || strcmp(p->argv[k], "-h") == 0)
            return 1;
    return 0;
}

/* The command's options and arguments, from argv[p->i] on. */
static int parse_command_args(struct parse *p, const struct cli_command *c,
                              struct cli *cli)
{
    int options_end = 0;
    int status;

    for (; p->i < p->argc; p->i++) {
        const char *arg = p->argv[p->i];

        if (!options_end && strcmp(arg, "--") == 0) {
            options_end = 1;
        } else if (!options_end && looks_like_option(arg)) {
            if ((status = take_option(p, c, cli)) >= 0)
                return status;
        } else if (cli->arg_count < c->max_args) {
            cli->args[cli->arg_count++] = arg;
        } else {
            return cli_usage_error(c, "unexpected argument '%s'", arg);
        }
    }
    if (cli->arg_count < c->min_args)
        return cli_usage_error(c, "%s needs %s", c->name, c->arguments);
    return decode_globals(c, cli);
}

/* The words before the command: global options, and the wsl.exe
 * spellings --status and --update --rollback.  Sets *name to the
 * command's name (NULL: none given). */
static int parse_before_command(struct parse *p, struct cli *cli,
                                const char **name)
{
    *name = NULL;
    for (; p->i < p->argc; p->i++) {
        const char *arg = p->argv[p->i];
        int status;

        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_usage(p->commands, p->count);
            return CLI_EXIT_OK;
        }
        if (strcmp(arg, "--version") == 0) {
            printf("kservice %s (libkservice %s)\n", KSVC_VERSION_STRING,
                   ksvc_version_string());
            return CLI_EXIT_OK;
        }
        if (strcmp(arg, "--status") == 0) {
            *name = "status";
            p->i++;
            return -1;
        }
        if (strcmp(arg, "--update") == 0) {
            if (p->i + 1 < p->argc && strcmp(p->argv[p->i + 1], "--rollback") == 0) {
                *name = "rollback";
                p->i += 2;
                return -1;
            }
            return cli_usage_error(NULL, "--update goes with --rollback "
                                   "here; to update, use 'kservice update "
                                   "FILE'");
        }
        if (!looks_like_option(arg)) {
            *name = arg;
            p->i++;
            return -1;
        }
        if ((status = take_option(p, NULL, cli)) >= 0)
            return status;
    }
    return -1;
}

int cli_parse(int argc, char **argv, const struct cli_command *commands,
              size_t count, struct cli *cli)
{
    struct parse p;
    const char *name;
    int status;

    memset(cli, 0, sizeof *cli);
    p.commands = commands;
    p.count = count;
    p.argc = argc;
    p.argv = argv;
    p.i = 1;
    if ((status = parse_before_command(&p, cli, &name)) >= 0)
        return status;
    if (name == NULL)
        return cli_usage_error(NULL, "no command given");
    if (strcmp(name, "help") == 0) {
        if (p.i >= argc) {
            print_usage(commands, count);
            return CLI_EXIT_OK;
        }
        name = argv[p.i++];
        cli->command = find_command(commands, count, name);
        if (cli->command == NULL)
            return cli_usage_error(NULL, "unknown command '%s'", name);
        print_command_help(cli->command);
        return CLI_EXIT_OK;
    }
    cli->command = find_command(commands, count, name);
    if (cli->command == NULL)
        return cli_usage_error(NULL, "unknown command '%s'", name);
    if (asks_for_help(&p)) {
        print_command_help(cli->command);
        return CLI_EXIT_OK;
    }
    return parse_command_args(&p, cli->command, cli);
}
