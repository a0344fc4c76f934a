/*
 * tests/machine.h over the POSIX mock backend: each machine is a fresh
 * mkdtemp() folder holding ROOT (made by ksvc_posix_init_machine) and a
 * scratch folder beside it, removed again by test_machine_free().
 *
 * The machine hands out a copy of the backend's table whose `elevated`
 * method reads the machine's own flag, so test_machine_set_elevated() works
 * on a table that contexts already hold.  Every other method is the
 * backend's own (they find their state through the table's data field).
 *
 * test_machine_platform_open() gives a second, independent table over the
 * same ROOT (a second servicer).  The POSIX-only suites also get ROOT itself
 * from test_machine_root().
 */
#define _POSIX_C_SOURCE 200809L
#define _DEFAULT_SOURCE

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "machine.h"

const char *test_machine_root(test_machine *m);

#define LXSS_SECTION                                                         \
    "HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Lxss"
#define LXSS_KEY "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Lxss"

struct test_machine {
    ksvc_platform table; /* first: machine_elevated() finds the machine */
    ksvc_platform *posix;
    char *base;    /* the mkdtemp() folder */
    char *root;    /* base/root: ROOT */
    char *scratch; /* base/scratch */
    int elevated;
    char **payloads;
    size_t payload_count;
    pid_t owner;               /* the process that made the machine */
    struct test_machine *next; /* in the list of live machines */
};

static void remove_tree_at(int dir_fd, const char *name);

/* Machines not freed yet.  A failed assertion leaves its test without
 * calling test_machine_free(); their folders are removed at exit instead,
 * by the process that made them only (a forked child must not remove its
 * parent's machines). */
static test_machine *live_machines;

static void remove_live_machines(void)
{
    test_machine *m;

    for (m = live_machines; m; m = m->next) {
        if (m->owner == getpid())
            remove_tree_at(AT_FDCWD, m->base);
    }
}

static void track(test_machine *m)
{
    static int registered;

    if (!registered && atexit(remove_live_machines) == 0)
        registered = 1;
    m->owner = getpid();
    m->next = live_machines;
    live_machines = m;
}

static void untrack(test_machine *m)
{
    test_machine **at;

    for (at = &live_machines; *at; at = &(*at)->next) {
        if (*at == m) {
            *at = m->next;
            return;
        }
    }
}

static char *join(const char *a, const char *b)
{
    size_t len = strlen(a) + 1 + strlen(b) + 1;
    char *out = malloc(len);

    if (!out)
        fail_msg("out of memory");
    snprintf(out, len, "%s/%s", a, b);
    return out;
}

static int machine_elevated(const ksvc_platform *p, int *elevated)
{
    const test_machine *m = (const test_machine *)p;

    *elevated = m->elevated;
    return KSVC_OK;
}

/* The machine's backend over ROOT, and its table, which answers the
 * elevation the test chose. */
static void open_backend(test_machine *m)
{
    ksvc_posix_options options = KSVC_POSIX_OPTIONS_INIT;
    int rc;

    options.root = m->root;
    rc = ksvc_posix_open(&m->posix, &options);
    if (rc != KSVC_OK)
        fail_msg("ksvc_posix_open(%s): %s", m->root, ksvc_error_name(rc));
    m->table = *m->posix;
    m->table.elevated = machine_elevated;
}

test_machine *test_machine_new(const ksvc_mock_machine *facts)
{
    const char *tmp = getenv("TMPDIR");
    test_machine *m = calloc(1, sizeof(*m));
    char *pattern;
    int rc;

    if (!m)
        fail_msg("out of memory");
    pattern = join(tmp && tmp[0] ? tmp : "/tmp", "ksvc-test-XXXXXX");
    if (mkdtemp(pattern) == NULL)
        fail_msg("mkdtemp %s: %s", pattern, strerror(errno));
    m->base = pattern;
    track(m);
    m->root = join(m->base, "root");
    m->scratch = join(m->base, "scratch");
    if (mkdir(m->scratch, 0755) != 0)
        fail_msg("mkdir %s: %s", m->scratch, strerror(errno));
    rc = ksvc_posix_init_machine(m->root, facts);
    if (rc != KSVC_OK)
        fail_msg("ksvc_posix_init_machine(%s): %s", m->root,
                 ksvc_error_name(rc));
    open_backend(m);
    m->elevated = 1;
    return m;
}

/* Remove @p name below @p dir_fd and everything inside it, never following
 * a link (a test may have planted links that point anywhere). */
static void remove_tree_at(int dir_fd, const char *name)
{
    struct stat st;
    struct dirent *entry;
    char **names = NULL;
    size_t count = 0, i;
    DIR *dir;
    int fd;

    if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return;
    if (!S_ISDIR(st.st_mode)) {
        unlinkat(dir_fd, name, 0);
        return;
    }
    fd = openat(dir_fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
    if (fd < 0)
        return;
    dir = fdopendir(fd);
    if (!dir) {
        close(fd);
        return;
    }
    /* Collect first, remove after: removing while reading a folder may
     * skip entries. */
    while ((entry = readdir(dir)) != NULL) {
        char **grown;
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        grown = realloc(names, (count + 1) * sizeof(*names));
        if (!grown)
            break;
        names = grown;
        names[count] = malloc(strlen(entry->d_name) + 1);
        if (!names[count])
            break;
        strcpy(names[count++], entry->d_name);
    }
    for (i = 0; i < count; i++) {
        remove_tree_at(dirfd(dir), names[i]);
        free(names[i]);
    }
    free(names);
    closedir(dir);
    unlinkat(dir_fd, name, AT_REMOVEDIR);
}

void test_machine_free(test_machine *m)
{
    size_t i;

    if (!m)
        return;
    untrack(m);
    m->posix->destroy(m->posix);
    remove_tree_at(AT_FDCWD, m->base);
    for (i = 0; i < m->payload_count; i++)
        free(m->payloads[i]);
    free(m->payloads);
    free(m->root);
    free(m->scratch);
    free(m->base);
    free(m);
}

ksvc_platform *test_machine_platform(test_machine *m)
{
    return &m->table;
}

ksvc_platform *test_machine_platform_open(test_machine *m)
{
    ksvc_posix_options options = KSVC_POSIX_OPTIONS_INIT;
    ksvc_platform *p = NULL;
    int rc;

    options.root = m->root;
    options.not_elevated = !m->elevated;
    rc = ksvc_posix_open(&p, &options);
    if (rc != KSVC_OK)
        fail_msg("ksvc_posix_open(%s): %s", m->root, ksvc_error_name(rc));
    return p;
}

void test_machine_platform_close(ksvc_platform *p)
{
    p->destroy(p);
}

const char *test_machine_root(test_machine *m)
{
    return m->root;
}

void test_machine_set_elevated(test_machine *m, int elevated)
{
    m->elevated = elevated != 0;
}

/* libkservice installs kernel images only: give a payload the header of
 * one for the machine's architecture (an x86-64 bzImage setup header, or
 * the arm64 Image magic), naming no version, so the version given to
 * install is the one that counts.  A payload too small to hold a setup
 * header is left as it is (and refused as not a kernel). */
static void stamp_kernel_header(test_machine *m, const char *path,
                                size_t size)
{
    unsigned char head[0x240];
    ksvc_arch arch = KSVC_ARCH_X64;
    FILE *f;

    if (size < 2048)
        return;
    if (m->posix->arch(m->posix, &arch) != KSVC_OK)
        fail_msg("reading the machine's architecture");
    f = fopen(path, "r+b");
    if (!f || fread(head, 1, sizeof head, f) != sizeof head)
        fail_msg("read %s: %s", path, strerror(errno));
    if (arch == KSVC_ARCH_ARM64) {
        memcpy(head + 0x38, "ARM\x64", 4);
    } else {
        head[0x1F1] = 3;                   /* setup_sects: 2048 bytes */
        memset(head + 0x1F4, 0, 4);        /* syssize: not stated */
        head[0x1FE] = 0x55;                /* boot flag 0xAA55 */
        head[0x1FF] = 0xAA;
        memcpy(head + 0x202, "HdrS", 4);   /* magic */
        head[0x206] = 0x0F;                /* boot protocol 2.15 */
        head[0x207] = 0x02;
        head[0x20E] = head[0x20F] = 0;     /* no kernel_version string */
        head[0x236] = 1;                   /* xloadflags: 64-bit kernel */
        head[0x237] = 0;
    }
    if (fseek(f, 0, SEEK_SET) != 0 || fwrite(head, 1, sizeof head, f) !=
                                          sizeof head || fclose(f) != 0)
        fail_msg("write %s: %s", path, strerror(errno));
}

const char *test_machine_payload(test_machine *m, const char *label,
                                 unsigned seed, size_t size)
{
    char *path = join(m->scratch, label);
    uint32_t x = seed * 2654435761u + 0x9E3779B9u;
    char **grown;
    FILE *f;
    size_t i;

    f = fopen(path, "wb");
    if (!f)
        fail_msg("fopen %s: %s", path, strerror(errno));
    for (i = 0; i < size; i++) {
        /* xorshift32: bytes that differ for every seed and offset */
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        if (fputc((int)(x & 0xFF), f) == EOF)
            fail_msg("write %s: %s", path, strerror(errno));
    }
    if (fclose(f) != 0)
        fail_msg("close %s: %s", path, strerror(errno));
    stamp_kernel_header(m, path, size);
    grown = realloc(m->payloads, (m->payload_count + 1) * sizeof(*grown));
    if (!grown)
        fail_msg("out of memory");
    m->payloads = grown;
    m->payloads[m->payload_count++] = path;
    return path;
}

const char *test_machine_scratch(test_machine *m)
{
    return m->scratch;
}

/* The whole of a file in a malloc'd buffer (NUL added), or NULL. */
static char *read_whole(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    size_t room = 0, used = 0, n;

    if (!f)
        return NULL;
    do {
        if (room - used < 4096) {
            char *grown = realloc(data, room + 65536 + 1);
            if (!grown)
                fail_msg("out of memory");
            data = grown;
            room += 65536;
        }
        n = fread(data + used, 1, room - used, f);
        used += n;
    } while (n > 0);
    fclose(f);
    data[used] = '\0';
    *len = used;
    return data;
}

static int line_starts_ci(const char *line, size_t len, const char *prefix)
{
    size_t i, n = strlen(prefix);

    if (len < n)
        return 0;
    for (i = 0; i < n; i++) {
        char a = line[i], b = prefix[i];
        if (a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (b >= 'A' && b <= 'Z')
            b = (char)(b - 'A' + 'a');
        if (a != b)
            return 0;
    }
    return 1;
}

/* Length of a line without its CR. */
static size_t content_len(const char *line, size_t len)
{
    return len > 0 && line[len - 1] == '\r' ? len - 1 : len;
}

/* Edit ROOT/registry.reg as text, the way an administrator with a text
 * editor would: drop the value's line (and its continuation lines) from the
 * Lxss section, then write the file back in place. */
int test_machine_delete_value_by_hand(test_machine *m, const char *name)
{
    char *path = join(m->root, "registry.reg"), *text, *out, *prefix;
    size_t len, pos = 0, used = 0;
    int in_lxss = 0, deleting = 0, found = 0;
    FILE *f;

    text = read_whole(path, &len);
    if (!text)
        fail_msg("read %s: %s", path, strerror(errno));
    out = malloc(len + 1);
    prefix = malloc(strlen(name) + 4);
    if (!out || !prefix)
        fail_msg("out of memory");
    sprintf(prefix, "\"%s\"=", name);
    while (pos < len) {
        const char *line = text + pos, *nl = memchr(line, '\n', len - pos);
        size_t full = nl ? (size_t)(nl - line) + 1 : len - pos;
        size_t body = content_len(line, nl ? full - 1 : full);
        int drop = 0;

        if (deleting) {
            drop = 1; /* a continuation line of the deleted value */
        } else if (body > 0 && line[0] == '[') {
            in_lxss = body == strlen(LXSS_SECTION) + 2 &&
                      line_starts_ci(line + 1, body - 1, LXSS_SECTION);
        } else if (in_lxss && line_starts_ci(line, body, prefix)) {
            drop = 1;
            found = 1;
        }
        deleting = drop && body > 0 && line[body - 1] == '\\';
        if (!drop) {
            memcpy(out + used, line, full);
            used += full;
        }
        pos += full;
    }
    if (found) {
        f = fopen(path, "wb");
        if (!f || fwrite(out, 1, used, f) != used || fclose(f) != 0)
            fail_msg("write %s: %s", path, strerror(errno));
    }
    free(prefix);
    free(out);
    free(text);
    free(path);
    return found ? 0 : -1;
}

static char *tools_file(test_machine *m, const char *name)
{
    char *tools = join(m->root, "System32/lxss/tools");
    char *path = join(tools, name);

    free(tools);
    return path;
}

void test_machine_remove_file_by_hand(test_machine *m, const char *name)
{
    char *path = tools_file(m, name);

    if (unlink(path) != 0 && errno != ENOENT)
        fail_msg("unlink %s: %s", path, strerror(errno));
    free(path);
}

void test_machine_remove_tools_by_hand(test_machine *m)
{
    char *tools = join(m->root, "System32/lxss/tools");

    m->posix->destroy(m->posix);
    if (rmdir(tools) != 0)
        fail_msg("rmdir %s: %s", tools, strerror(errno));
    free(tools);
    open_backend(m);
}

void test_machine_folder_as_file_by_hand(test_machine *m, const char *name)
{
    char *path = tools_file(m, name);

    if (mkdir(path, 0755) != 0)
        fail_msg("mkdir %s: %s", path, strerror(errno));
    free(path);
}

void test_machine_corrupt_file_by_hand(test_machine *m, const char *name)
{
    char *path = tools_file(m, name);
    unsigned char byte = 0x5A;
    struct stat st;
    off_t at;
    int fd;

    fd = open(path, O_RDWR | O_NOFOLLOW);
    if (fd < 0 || fstat(fd, &st) != 0)
        fail_msg("open %s: %s", path, strerror(errno));
    at = st.st_size / 2;
    /* Flip every bit of the middle byte; an empty file gains a byte. */
    if (st.st_size > 0 && pread(fd, &byte, 1, at) != 1)
        fail_msg("read %s: %s", path, strerror(errno));
    byte ^= 0xFF;
    if (pwrite(fd, &byte, 1, at) != 1 || close(fd) != 0)
        fail_msg("write %s: %s", path, strerror(errno));
    free(path);
}

/* ---- snapshot (tests/machine_snapshot.c) ---- */

/* The POSIX hive is a file: any change to it, in any key, counts (a
 * "hive" line, which tests/fault/scenario.c cuts off to compare runs). */
char *test_machine_snapshot_extra(test_machine *m)
{
    char *hive_path = join(m->root, "registry.reg");
    char *out = malloc(128);
    size_t len;
    char *hive = read_whole(hive_path, &len);

    if (!out)
        fail_msg("out of memory");
    if (hive)
        snprintf(out, 128, "hive %lu bytes fnv=%016llx\n",
                 (unsigned long)len,
                 (unsigned long long)test_fnv1a(1469598103934665603ull, hive,
                                                len));
    else
        snprintf(out, 128, "hive absent\n");
    free(hive);
    free(hive_path);
    return out;
}
