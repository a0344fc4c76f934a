/*
 * The performance benchmark of issue 7: libkservice against what a user
 * would otherwise run, measured in one run on the POSIX mock backend.
 *
 * For each payload size (random data, 1 MiB, 64 MiB and 512 MiB by default):
 *   - `kservice install` against `cp PAYLOAD DEST && sync DEST`;
 *   - `kservice install --sha256` against
 *     `sha256sum PAYLOAD && cp PAYLOAD DEST && sync DEST`;
 *   - the peak resident memory of the kservice process (wait4's rusage);
 *   - the bytes one install writes (rusage ru_oublock: the bytes the process
 *     dirtied in the page cache or wrote directly, in 512-byte units);
 *   - the fsync calls of one install (strace -f -c, when strace runs here);
 *   - rollback, revert-rollback, status and boot-path, called in-process.
 * Then the library's SHA-256 against `openssl dgst -sha256` on the same file.
 *
 * Every timed figure is the median of --runs runs (at least 5 by default);
 * the contenders run interleaved, so a change of load hits both sides.  The
 * page cache is flushed (sync) before every timed run and the payload is in
 * the cache for both sides, as it is right after a download.
 *
 * usage: bench --kservice PATH [--dir DIR] [--runs N] [--sizes 1M,64M,512M]
 *              [--strace PATH|none]
 */
#define _GNU_SOURCE /* wait4, statfs, nftw */

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/vfs.h>
#endif

#include <kservice/kservice.h>
#include <kservice/posix.h>

#include "internal.h" /* ksvc__hash_slot, ksvc__sha256_*: the library's hashing */

#define MIB (1024.0 * 1024.0)
#define MAX_RUNS 64
#define MAX_SIZES 8
#define CHUNK (1u << 20)

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

static void die(const char *fmt, const char *arg)
{
    fprintf(stderr, "bench: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\n");
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(const double *v, int n)
{
    double s[MAX_RUNS];

    memcpy(s, v, sizeof(double) * (size_t)n);
    qsort(s, (size_t)n, sizeof(double), cmp_double);
    return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

/* "12.3 ms", "1.23 s", "45 us": a duration for the table. */
static const char *fmt_time(double s, char *buf, size_t size)
{
    if (s >= 1.0)
        snprintf(buf, size, "%.3f s", s);
    else if (s >= 1e-3)
        snprintf(buf, size, "%.2f ms", s * 1e3);
    else
        snprintf(buf, size, "%.0f us", s * 1e6);
    return buf;
}

static const char *fmt_size(uint64_t bytes, char *buf, size_t size)
{
    if (bytes >= (1u << 30) && bytes % (1u << 30) == 0)
        snprintf(buf, size, "%llu GiB", (unsigned long long)(bytes >> 30));
    else if (bytes >= (1u << 20) && bytes % (1u << 20) == 0)
        snprintf(buf, size, "%llu MiB", (unsigned long long)(bytes >> 20));
    else
        snprintf(buf, size, "%.2f MiB", (double)bytes / MIB);
    return buf;
}

static uint64_t parse_size(const char *text)
{
    char *end;
    unsigned long long v = strtoull(text, &end, 10);

    if (end == text)
        die("bad size \"%s\"", text);
    if (*end == 'K' || *end == 'k')
        v <<= 10;
    else if (*end == 'M' || *end == 'm')
        v <<= 20;
    else if (*end == 'G' || *end == 'g')
        v <<= 30;
    else if (*end != '\0')
        die("bad size \"%s\"", text);
    if (v < 4096)
        die("size \"%s\" is below 4 KiB", text);
    return v;
}

/* ------------------------------------------------------------------------ */
/* Child processes                                                          */
/* ------------------------------------------------------------------------ */

typedef struct child_run {
    double seconds;
    double cpu_seconds;  /* user + system time of the child */
    long max_rss_kib;    /* ru_maxrss of the child */
    uint64_t out_bytes;  /* ru_oublock * 512 */
    int status;          /* exit status, or 128 + signal */
} child_run;

/* Run argv with stdout (and stderr when quiet) on /dev/null and measure it
 * with wait4: wall time, peak RSS and blocks written of that child alone. */
static int run_child(char *const argv[], int quiet, child_run *r)
{
    struct rusage ru;
    double start = now_s();
    int status;
    pid_t pid = fork();

    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid == 0) {
        int null = open("/dev/null", O_WRONLY);
        if (null >= 0) {
            dup2(null, 1);
            if (quiet)
                dup2(null, 2);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "bench: cannot run %s: %s\n", argv[0],
                strerror(errno));
        _exit(127);
    }
    if (wait4(pid, &status, 0, &ru) != pid)
        die("wait4: %s", strerror(errno));
    r->seconds = now_s() - start;
    r->cpu_seconds = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
    r->max_rss_kib = ru.ru_maxrss;
    r->out_bytes = (uint64_t)ru.ru_oublock * 512u;
    r->status = WIFEXITED(status) ? WEXITSTATUS(status)
                                  : 128 + WTERMSIG(status);
    return r->status;
}

static void must_run(char *const argv[], child_run *r)
{
    if (run_child(argv, 0, r) != 0) {
        char line[1024] = "";
        int i;
        for (i = 0; argv[i]; i++) {
            strncat(line, argv[i], sizeof line - strlen(line) - 2);
            strcat(line, " ");
        }
        die("command failed: %s", line);
    }
}

/* Does argv[0] run at all (a tool that is missing or not permitted)? */
static int tool_works(char *const argv[])
{
    child_run r;
    return run_child(argv, 1, &r) == 0;
}

/* ------------------------------------------------------------------------ */
/* Payloads                                                                 */
/* ------------------------------------------------------------------------ */

/* xoshiro256** (public domain algorithm by Blackman and Vigna), seeded with
 * splitmix64: fast, incompressible enough that no layer can shortcut it. */
typedef struct prng {
    uint64_t s[4];
} prng;

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static void prng_seed(prng *g, uint64_t seed)
{
    int i;
    for (i = 0; i < 4; i++) {
        uint64_t z = (seed += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        g->s[i] = z ^ (z >> 31);
    }
}

static uint64_t prng_next(prng *g)
{
    uint64_t *s = g->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* The payload is random data in the frame of an x86-64 bzImage, so an
 * install that reads the image finds a kernel of the machine's architecture
 * and the version given with --version: setup_sects at 0x1F1, the boot
 * flag 0xAA55 at 0x1FE, "HdrS" at 0x202, the protocol at 0x206, the
 * kernel_version pointer at 0x20E (the string is at pointer + 0x200, inside
 * the setup code) and xloadflags bit 0 (64-bit kernel) at 0x236. */
#define HDR_VERSION_PTR 0x0400u
#define HDR_VERSION_AT (HDR_VERSION_PTR + 0x200u)

static void make_version(unsigned serial, char *buf, size_t size)
{
    snprintf(buf, size, "5.15.%06u.1-bench", 100000u + serial);
}

static void write_header(unsigned char *block, const char *version)
{
    char banner[96];

    block[0x1F1] = 15; /* setup code: (15 + 1) * 512 bytes */
    memset(block + 0x1F4, 0, 4); /* syssize: not stated */
    block[0x1FE] = 0x55;
    block[0x1FF] = 0xAA;
    memcpy(block + 0x202, "HdrS", 4);
    block[0x206] = 0x0F; /* boot protocol 2.15, little-endian */
    block[0x207] = 0x02;
    block[0x20E] = (unsigned char)(HDR_VERSION_PTR & 0xFF);
    block[0x20F] = (unsigned char)(HDR_VERSION_PTR >> 8);
    block[0x236] |= 1;
    memset(banner, 0, sizeof banner);
    snprintf(banner, sizeof banner, "%s (bench@libkservice) #1 SMP",
             version);
    memcpy(block + HDR_VERSION_AT, banner, sizeof banner);
}

static void make_payload(const char *path, uint64_t size, const char *version)
{
    unsigned char *buf = malloc(CHUNK);
    uint64_t done = 0;
    prng g;
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    if (fd < 0 || !buf)
        die("cannot create %s", path);
    prng_seed(&g, size);
    while (done < size) {
        size_t n = size - done < CHUNK ? (size_t)(size - done) : CHUNK, i;
        for (i = 0; i + 8 <= n; i += 8) {
            uint64_t x = prng_next(&g);
            memcpy(buf + i, &x, 8);
        }
        for (; i < n; i++)
            buf[i] = (unsigned char)prng_next(&g);
        if (done == 0)
            write_header(buf, version);
        if (write(fd, buf, n) != (ssize_t)n)
            die("cannot write %s", path);
        done += n;
    }
    if (fsync(fd) != 0 || close(fd) != 0)
        die("cannot sync %s", path);
    free(buf);
}

/* Give the payload its next version: a few bytes rewritten in place, so
 * the rest of the file stays in the page cache. */
static void set_payload_version(const char *path, const char *version)
{
    unsigned char block[HDR_VERSION_AT + 96];
    int fd = open(path, O_RDWR);

    if (fd < 0 || pread(fd, block, sizeof block, 0) != (ssize_t)sizeof block)
        die("cannot read %s", path);
    write_header(block, version);
    if (pwrite(fd, block, sizeof block, 0) != (ssize_t)sizeof block ||
        fsync(fd) != 0 || close(fd) != 0)
        die("cannot write %s", path);
}

/* Pull a file into the page cache (the "just downloaded" state). */
static void warm(const char *path)
{
    unsigned char *buf = malloc(CHUNK);
    int fd = open(path, O_RDONLY);

    if (fd < 0 || !buf)
        die("cannot read %s", path);
    while (read(fd, buf, CHUNK) > 0) {
    }
    close(fd);
    free(buf);
}

/* ------------------------------------------------------------------------ */
/* The library, in-process                                                  */
/* ------------------------------------------------------------------------ */

typedef struct machine {
    ksvc_platform *p;
    ksvc_context *ctx;
} machine;

static void machine_open(machine *m, const char *root)
{
    ksvc_posix_options o = KSVC_POSIX_OPTIONS_INIT;
    int err;

    o.root = root;
    err = ksvc_posix_open(&m->p, &o);
    if (!err)
        err = ksvc_open(&m->ctx, m->p, NULL);
    if (err)
        die("cannot open the machine: %s", ksvc_strerror(err));
}

static void machine_close(machine *m)
{
    ksvc_close(m->ctx);
    ksvc_posix_free(m->p);
}

static void check(machine *m, int err, const char *what)
{
    char msg[1200];

    if (err) {
        snprintf(msg, sizeof msg, "%s: %s (%s)", what, ksvc_strerror(err),
                 ksvc_error_detail(m->ctx));
        die("%s", msg);
    }
}

/* SHA-256 of a caller's file through the library's hasher and the
 * platform's reads: the checksum a user would pass to --sha256. */
static void payload_sha256(machine *m, const char *path, char hex[65])
{
    unsigned char *buf = malloc(CHUNK);
    ksvc__hasher h;
    ksvc_file *f = NULL;
    uint64_t offset = 0;
    size_t got;

    if (!buf || m->p->payload_open(m->p, path, &f) != KSVC_OK)
        die("cannot open %s", path);
    if (ksvc__hasher_begin(&h, m->p) != KSVC_OK)
        die("%s", "cannot start SHA-256");
    for (;;) {
        if (m->p->file_read(f, offset, buf, CHUNK, &got) != KSVC_OK)
            die("cannot read %s", path);
        if (got == 0)
            break;
        ksvc__hasher_update(&h, buf, got);
        offset += got;
    }
    ksvc__hasher_end(&h, hex);
    m->p->file_close(f);
    free(buf);
}

/* ------------------------------------------------------------------------ */
/* fsync calls of a command, counted by strace                              */
/* ------------------------------------------------------------------------ */

/* Run argv under strace -f -c restricted to the calls that make data
 * durable and return how many there were, or -1 when strace cannot run. */
static int count_syncs(const char *strace, const char *dir, char *const argv[])
{
    char out[4096], line[512];
    char *full[64];
    child_run r;
    FILE *f;
    int i, n = 0, total = 0;

    if (!strace)
        return -1;
    snprintf(out, sizeof out, "%s/strace.txt", dir);
    full[n++] = (char *)strace;
    full[n++] = "-f";
    full[n++] = "-c";
    full[n++] = "-o";
    full[n++] = out;
    full[n++] = "-e";
    full[n++] = "trace=fsync,fdatasync,sync,syncfs,msync";
    for (i = 0; argv[i] && n < 63; i++)
        full[n++] = argv[i];
    full[n] = NULL;
    if (run_child(full, 1, &r) != 0)
        return -1;
    f = fopen(out, "r");
    if (!f)
        return -1;
    /* Rows: "% time  seconds  usecs/call  calls  [errors]  syscall". */
    while (fgets(line, sizeof line, f)) {
        double pct, secs, usecs;
        long calls;
        if (sscanf(line, "%lf %lf %lf %ld", &pct, &secs, &usecs, &calls) ==
                4 &&
            !strstr(line, "total"))
            total += (int)calls;
    }
    fclose(f);
    unlink(out);
    return total;
}

/* ------------------------------------------------------------------------ */
/* One payload size                                                         */
/* ------------------------------------------------------------------------ */

typedef struct config {
    const char *kservice;
    const char *strace; /* NULL: not available */
    char work[4096];
    int runs;
    uint64_t sizes[MAX_SIZES];
    int size_count;
    char fs[40];          /* file system of the work folder */
    char load_before[64]; /* /proc/loadavg when the run started */
} config;

enum op {
    OP_ROLLBACK,
    OP_REVERT,
    OP_STATUS,
    OP_BOOT_PATH,
    OP_BOOT_BEGIN,
    OP_BOOT_CONFIRM,
    OP_COUNT
};
static const char *const op_names[OP_COUNT] = {
    "rollback", "revert-rollback", "status", "boot-path", "boot-begin",
    "boot-confirm"};

typedef struct size_result {
    uint64_t size;
    double install, cp, install_sha, sha_cp; /* medians, seconds */
    double lib_install;                       /* ksvc_install() in-process */
    double rss_kib;                           /* median peak RSS */
    double install_bytes, cp_bytes;           /* median bytes written */
    int install_syncs, cp_syncs;              /* -1: not counted */
    double op[OP_COUNT];                      /* medians, seconds */
    int op_ok[OP_COUNT];
} size_result;

static unsigned version_serial;

/* kservice --root ROOT install PAYLOAD --version V [--sha256 HEX] */
static void install_argv(const config *c, const char *root,
                         const char *payload, const char *version,
                         const char *sha, char *argv[10])
{
    int n = 0;

    argv[n++] = (char *)c->kservice;
    argv[n++] = "--root";
    argv[n++] = (char *)root;
    argv[n++] = "install";
    argv[n++] = (char *)payload;
    argv[n++] = "--version";
    argv[n++] = (char *)version;
    if (sha) {
        argv[n++] = "--sha256";
        argv[n++] = (char *)sha;
    }
    argv[n] = NULL;
}

/* The next version, written into the payload; its checksum when asked. */
static void next_version(machine *m, const char *payload, char *version,
                         size_t size, char sha[65])
{
    make_version(++version_serial, version, size);
    set_payload_version(payload, version);
    if (sha)
        payload_sha256(m, payload, sha);
    warm(payload);
    sync();
}

static void time_installs(const config *c, const char *root,
                          const char *payload, const char *dest,
                          size_result *res)
{
    double t_inst[MAX_RUNS], t_cp[MAX_RUNS], t_isha[MAX_RUNS],
        t_scp[MAX_RUNS], rss[MAX_RUNS], b_inst[MAX_RUNS], b_cp[MAX_RUNS],
        t_lib[MAX_RUNS];
    char *cp_argv[] = {"sh", "-c", "cp \"$1\" \"$2\" && sync \"$2\"", "sh",
                       (char *)payload, (char *)dest, NULL};
    char *scp_argv[] = {"sh", "-c",
                        "sha256sum \"$1\" >/dev/null && cp \"$1\" \"$2\" && "
                        "sync \"$2\"",
                        "sh", (char *)payload, (char *)dest, NULL};
    char version[64], sha[65], *argv[10];
    child_run r;
    machine m;
    int i;

    machine_open(&m, root);
    for (i = 0; i < c->runs; i++) {
        /* install against cp && sync */
        next_version(&m, payload, version, sizeof version, NULL);
        must_run(cp_argv, &r);
        t_cp[i] = r.seconds;
        b_cp[i] = (double)r.out_bytes;
        sync();
        install_argv(c, root, payload, version, NULL, argv);
        must_run(argv, &r);
        t_inst[i] = r.seconds;
        rss[i] = (double)r.max_rss_kib;
        b_inst[i] = (double)r.out_bytes;
        /* the library alone: ksvc_install() in this process, without the
         * command's start and the status it prints afterwards */
        next_version(&m, payload, version, sizeof version, NULL);
        {
            double start = now_s();
            int err = ksvc_install(m.ctx, payload, version, NULL);
            t_lib[i] = now_s() - start;
            check(&m, err, "ksvc_install");
        }
        /* install --sha256 against sha256sum && cp && sync */
        next_version(&m, payload, version, sizeof version, sha);
        must_run(scp_argv, &r);
        t_scp[i] = r.seconds;
        sync();
        install_argv(c, root, payload, version, sha, argv);
        must_run(argv, &r);
        t_isha[i] = r.seconds;
    }
    res->install = median(t_inst, c->runs);
    res->lib_install = median(t_lib, c->runs);
    res->cp = median(t_cp, c->runs);
    res->install_sha = median(t_isha, c->runs);
    res->sha_cp = median(t_scp, c->runs);
    res->rss_kib = median(rss, c->runs);
    res->install_bytes = median(b_inst, c->runs);
    res->cp_bytes = median(b_cp, c->runs);
    /* One more of each under strace, untimed, to count the fsync calls. */
    next_version(&m, payload, version, sizeof version, NULL);
    install_argv(c, root, payload, version, NULL, argv);
    res->install_syncs = count_syncs(c->strace, c->work, argv);
    if (res->install_syncs < 0) /* not installed by strace: do it plainly */
        must_run(argv, &r);
    res->cp_syncs = count_syncs(c->strace, c->work, cp_argv);
    machine_close(&m);
}

static int run_op(machine *m, enum op op)
{
    ksvc_status s = KSVC_STATUS_INIT;
    char path[4096];

    switch (op) {
    case OP_ROLLBACK:
        return ksvc_rollback(m->ctx);
    case OP_REVERT:
        return ksvc_revert_rollback(m->ctx);
    case OP_STATUS:
        return ksvc_status_get(m->ctx, &s);
    case OP_BOOT_BEGIN:
        return ksvc_boot_begin(m->ctx, path, sizeof path);
    case OP_BOOT_CONFIRM:
        return ksvc_boot_confirm(m->ctx);
    default:
        return ksvc_boot_path(m->ctx, path, sizeof path);
    }
}

/* rollback, revert, status and boot-path in-process, on a machine whose two
 * slots hold kernels of this size. */
static void time_ops(const config *c, const char *root, size_result *res)
{
    /* begin counts a try of the kernel on trial and confirm ends the
     * trial; the revert puts it on trial again for the next round. */
    static const enum op order[OP_COUNT] = {OP_STATUS,       OP_BOOT_PATH,
                                            OP_BOOT_BEGIN,   OP_BOOT_CONFIRM,
                                            OP_ROLLBACK,     OP_REVERT};
    double t[OP_COUNT][MAX_RUNS];
    machine m;
    int i, k;

    machine_open(&m, root);
    for (i = 0; i < c->runs; i++) {
        for (k = 0; k < OP_COUNT; k++) {
            enum op op = order[k];
            double start = now_s();
            int err = run_op(&m, op);
            t[op][i] = now_s() - start;
            check(&m, err, op_names[op]);
        }
    }
    for (k = 0; k < OP_COUNT; k++)
        res->op[k] = median(t[k], c->runs);
    machine_close(&m);
}

static void bench_size(const config *c, uint64_t size, size_result *res)
{
    char root[4200], payload[4200], dest[4200], version[64], label[32];
    char *init_argv[] = {(char *)c->kservice, "--root", root, "init-mock",
                         NULL};
    char *argv[10];
    child_run r;

    memset(res, 0, sizeof *res);
    res->size = size;
    fmt_size(size, label, sizeof label);
    fprintf(stderr, "bench: %s: payload, machine, %d runs...\n", label,
            c->runs);
    snprintf(root, sizeof root, "%s/root-%llu", c->work,
             (unsigned long long)size);
    snprintf(payload, sizeof payload, "%s/payload-%llu", c->work,
             (unsigned long long)size);
    snprintf(dest, sizeof dest, "%s/dest-%llu", c->work,
             (unsigned long long)size);
    make_version(++version_serial, version, sizeof version);
    make_payload(payload, size, version);
    must_run(init_argv, &r);
    /* Two installs first: the machine then has both slots, as it has after
     * its first update, and every timed install moves kernel to
     * kernel.rollback and replaces an old rollback kernel. */
    install_argv(c, root, payload, version, NULL, argv);
    must_run(argv, &r);
    make_version(++version_serial, version, sizeof version);
    set_payload_version(payload, version);
    must_run(argv, &r);
    time_installs(c, root, payload, dest, res);
    time_ops(c, root, res);
    unlink(payload);
    unlink(dest);
}

/* ------------------------------------------------------------------------ */
/* SHA-256 throughput                                                       */
/* ------------------------------------------------------------------------ */

typedef struct sha_result {
    uint64_t size;
    double library, openssl, sha256sum; /* medians, bytes per second */
    double library_cpu, openssl_cpu;    /* the same per CPU second */
    double builtin;                     /* the portable fallback */
    int have_openssl;
} sha_result;

/* CPU seconds of this process so far, every thread (the hashing worker
 * included). */
static double cpu_now(void)
{
    struct rusage ru;

    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

/* The library's own portable SHA-256 on a buffer in memory: what a
 * platform without a hashing method gets. */
static double builtin_throughput(int runs)
{
    const size_t size = 64u << 20;
    unsigned char *buf = malloc(size), digest[32];
    double t[MAX_RUNS];
    prng g;
    size_t i;
    int k;

    if (!buf)
        die("%s", "out of memory");
    prng_seed(&g, 42);
    for (i = 0; i < size; i++)
        buf[i] = (unsigned char)prng_next(&g);
    for (k = 0; k < runs; k++) {
        ksvc__sha256 s;
        double start = now_s();
        ksvc__sha256_init(&s);
        ksvc__sha256_update(&s, buf, size);
        ksvc__sha256_final(&s, digest);
        t[k] = (double)size / (now_s() - start);
    }
    free(buf);
    return median(t, runs);
}

/* The library (ksvc__hash_slot: the platform's reads and hashing, as
 * verification uses them) against openssl dgst -sha256 and sha256sum on the
 * same slot file, which sits in the page cache for all three. */
static void bench_sha(const config *c, uint64_t size, sha_result *res)
{
    char root[4200], path[4300];
    double lib[MAX_RUNS], ossl[MAX_RUNS], sum[MAX_RUNS], lib_cpu[MAX_RUNS],
        ossl_cpu[MAX_RUNS];
    char *ossl_argv[] = {"openssl", "dgst", "-sha256", path, NULL};
    char *sum_argv[] = {"sha256sum", path, NULL};
    char hex[65];
    uint64_t got;
    child_run r;
    machine m;
    int i;

    snprintf(root, sizeof root, "%s/root-%llu", c->work,
             (unsigned long long)size);
    snprintf(path, sizeof path, "%s/System32/lxss/tools/kernel", root);
    res->size = size;
    res->have_openssl = tool_works(ossl_argv);
    machine_open(&m, root);
    warm(path);
    for (i = 0; i < c->runs; i++) {
        double start = now_s(), cpu = cpu_now();
        check(&m, ksvc__hash_slot(m.ctx, KSVC__F_KERNEL, hex, &got),
              "hashing the kernel");
        lib[i] = (double)got / (now_s() - start);
        lib_cpu[i] = (double)got / (cpu_now() - cpu);
        if (res->have_openssl) {
            must_run(ossl_argv, &r);
            ossl[i] = (double)size / r.seconds;
            ossl_cpu[i] = (double)size / r.cpu_seconds;
        }
        must_run(sum_argv, &r);
        sum[i] = (double)size / r.seconds;
    }
    machine_close(&m);
    res->library = median(lib, c->runs);
    res->openssl = res->have_openssl ? median(ossl, c->runs) : 0;
    res->library_cpu = median(lib_cpu, c->runs);
    res->openssl_cpu = res->have_openssl ? median(ossl_cpu, c->runs) : 0;
    res->sha256sum = median(sum, c->runs);
    res->builtin = builtin_throughput(c->runs);
}

/* ------------------------------------------------------------------------ */
/* The report                                                               */
/* ------------------------------------------------------------------------ */

static void read_load(char *buf, size_t size)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double a, b, c;

    snprintf(buf, size, "unknown");
    if (f && fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3)
        snprintf(buf, size, "%.2f %.2f %.2f", a, b, c);
    if (f)
        fclose(f);
}

/* The file system under the work folder, by name where it is a common one
 * (tmpfs matters: its fsync costs nothing). */
static void read_fs(const char *dir, char *buf, size_t size)
{
    snprintf(buf, size, "unknown");
#ifdef __linux__
    {
        struct statfs sf;
        if (statfs(dir, &sf) != 0)
            return;
        switch ((unsigned long)sf.f_type) {
        case 0xEF53: snprintf(buf, size, "ext4"); break;
        case 0x58465342: snprintf(buf, size, "xfs"); break;
        case 0x9123683E: snprintf(buf, size, "btrfs"); break;
        case 0x01021994: snprintf(buf, size, "tmpfs (fsync is free)"); break;
        case 0x794C7630: snprintf(buf, size, "overlayfs"); break;
        default: snprintf(buf, size, "f_type 0x%lx", (unsigned long)sf.f_type);
        }
    }
#else
    (void)dir;
#endif
}

static void print_machine(const config *c)
{
    struct utsname u;
    char line[512], model[256] = "unknown CPU", load[64];
    int sha_ni = 0;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    FILE *f = fopen("/proc/cpuinfo", "r");

    if (f) {
        while (fgets(line, sizeof line, f)) {
            char *colon = strchr(line, ':');
            if (!strncmp(line, "model name", 10) && colon &&
                !strcmp(model, "unknown CPU")) {
                snprintf(model, sizeof model, "%s", colon + 2);
                model[strcspn(model, "\n")] = '\0';
            }
            if (!strncmp(line, "flags", 5) && strstr(line, " sha_ni"))
                sha_ni = 1;
        }
        fclose(f);
    }
    uname(&u);
    printf("## libkservice benchmark\n\n");
    printf("Machine: %s, %ld cores%s, %.1f GiB RAM; %s %s %s; work folder "
           "on %s.\n",
           model, cores, sha_ni ? " (SHA-NI)" : "",
           (double)pages * (double)page / (MIB * 1024.0), u.sysname,
           u.release, u.machine, c->fs);
    read_load(load, sizeof load);
    printf("Load average (1, 5, 15 min) at the start: %s; at the end: %s "
           "(other work on the machine slows both sides of a ratio, not "
           "always equally).\n",
           c->load_before, load);
    printf("libkservice %s; medians of %d runs; contenders interleaved, "
           "page cache synced before each timed run, payload cached.\n\n",
           ksvc_version_string(), c->runs);
}

static const char *verdict(int ok)
{
    return ok ? "ok" : "**MISS**";
}

static void print_installs(const config *c, const size_result *res, int n)
{
    char a[32], b[32], s[32];
    int i;

    printf("### Install against the shell\n\n");
    printf("| payload | cp && sync | kservice install | ratio | "
           "ksvc_install() in-process | ratio | install --sha256 | "
           "sha256sum && cp && sync | ratio |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (i = 0; i < n; i++) {
        const size_result *r = &res[i];
        double q1 = r->install / r->cp, q2 = r->install_sha / r->sha_cp;
        double q3 = r->lib_install / r->cp;
        char a2[32], b2[32], l[32];
        printf("| %s | %s | %s | %.2fx %s | %s | %.2fx %s | %s | %s | "
               "%.2fx %s |\n",
               fmt_size(r->size, s, sizeof s), fmt_time(r->cp, b, 32),
               fmt_time(r->install, a, 32), q1, verdict(q1 <= 1.10),
               fmt_time(r->lib_install, l, 32), q3, verdict(q3 <= 1.10),
               fmt_time(r->install_sha, a2, 32), fmt_time(r->sha_cp, b2, 32),
               q2, verdict(q2 <= 1.10));
    }
    printf("\nTarget: each ratio <= 1.10. `kservice install` is the command "
           "(process start, then the install, then the status it prints); "
           "ksvc_install() is the library call alone, timed in this "
           "process.\n\n");

    printf("### Memory, writes and fsync calls of one install\n\n");
    printf("| payload | peak RSS | vs smallest | bytes written | "
           "per payload byte | cp writes | fsync calls | cp && sync "
           "fsyncs |\n");
    printf("|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (i = 0; i < n; i++) {
        const size_result *r = &res[i];
        double delta = r->rss_kib - res[0].rss_kib;
        char syncs[32], cps[32];
        if (r->install_syncs >= 0)
            snprintf(syncs, sizeof syncs, "%d", r->install_syncs);
        else
            strcpy(syncs, "n/a");
        if (r->cp_syncs >= 0)
            snprintf(cps, sizeof cps, "%d", r->cp_syncs);
        else
            strcpy(cps, "n/a");
        printf("| %s | %.2f MiB | %+.2f MiB %s | %.2f MiB | %.3f | %.2f MiB "
               "| %s | %s |\n",
               fmt_size(r->size, s, sizeof s), r->rss_kib / 1024.0,
               delta / 1024.0, verdict(delta <= 1024.0),
               r->install_bytes / MIB, r->install_bytes / (double)r->size,
               r->cp_bytes / MIB, syncs, cps);
    }
    printf("\nTargets: peak RSS of every install within 1 MiB of the "
           "smallest; bytes written = payload + metadata (no data copy for "
           "kernel.rollback); fsync calls the minimum the protocol needs "
           "(see README).\n");
    printf("Bytes written are the child's ru_oublock (bytes it dirtied in "
           "the page cache) from wait4; fsync calls are strace -f -c counts "
           "of fsync, fdatasync, sync, syncfs and msync%s.\n\n",
           c->strace ? "" : " (strace did not run here: n/a)");
}

static void print_ops(const config *c, const size_result *res, int n)
{
    const size_result *small = &res[0], *big = &res[n - 1];
    char a[32], b[32], s1[32], s2[32];
    int k;

    (void)c;
    printf("### In-process calls\n\n");
    printf("| call | %s kernel | %s kernel | ratio | under 1 ms |\n",
           fmt_size(small->size, s1, sizeof s1),
           fmt_size(big->size, s2, sizeof s2));
    printf("|---|---:|---:|---:|---|\n");
    for (k = 0; k < OP_COUNT; k++) {
        double q = big->op[k] / small->op[k];
        printf("| %s | %s | %s | %.2fx %s | %s |\n", op_names[k],
               fmt_time(small->op[k], a, 32), fmt_time(big->op[k], b, 32), q,
               verdict(q <= 1.2),
               verdict(small->op[k] < 1e-3 && big->op[k] < 1e-3));
    }
    printf("\nTargets: the largest kernel within 1.2x of the smallest, each "
           "call under 1 ms. status is without verification.\n\n");
}

static void print_sha(const sha_result *r)
{
    char s[32];

    printf("### SHA-256 throughput on the same %s file\n\n",
           fmt_size(r->size, s, sizeof s));
    if (!r->have_openssl) {
        printf("| hasher | MB/s |\n|---|---:|\n");
        printf("| libkservice | %.0f |\n| sha256sum | %.0f |\n",
               r->library / 1e6, r->sha256sum / 1e6);
        printf("| libkservice built-in fallback (in memory) | %.0f |\n",
               r->builtin / 1e6);
        printf("\nTarget: libkservice >= 0.9x openssl dgst (no openssl "
               "command here: not judged).\n");
        return;
    }
    printf("| hasher | MB/s | vs openssl dgst | MB/s per CPU second | vs "
           "openssl dgst |\n|---|---:|---:|---:|---:|\n");
    printf("| libkservice (platform hashing, as install and verify use it) "
           "| %.0f | %.2fx %s | %.0f | %.2fx %s |\n",
           r->library / 1e6, r->library / r->openssl,
           verdict(r->library / r->openssl >= 0.9), r->library_cpu / 1e6,
           r->library_cpu / r->openssl_cpu,
           verdict(r->library_cpu / r->openssl_cpu >= 0.9));
    printf("| openssl dgst -sha256 | %.0f | 1.00x | %.0f | 1.00x |\n",
           r->openssl / 1e6, r->openssl_cpu / 1e6);
    printf("| sha256sum | %.0f | %.2fx | | |\n", r->sha256sum / 1e6,
           r->sha256sum / r->openssl);
    printf("| libkservice built-in fallback (in memory) | %.0f | %.2fx | | "
           "|\n",
           r->builtin / 1e6, r->builtin / r->openssl);
    printf("\nTarget: libkservice >= 0.9x openssl dgst. Wall-clock MB/s is "
           "what a user waits for; MB/s per CPU second does not depend on "
           "how busy the other core is.\n");
}

/* ------------------------------------------------------------------------ */
/* Setup                                                                    */
/* ------------------------------------------------------------------------ */

static int remove_entry(const char *path, const struct stat *st, int flag,
                        struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static void parse_sizes(config *c, const char *list)
{
    char buf[256], *tok, *save = NULL;

    snprintf(buf, sizeof buf, "%s", list);
    c->size_count = 0;
    for (tok = strtok_r(buf, ",", &save); tok && c->size_count < MAX_SIZES;
         tok = strtok_r(NULL, ",", &save))
        c->sizes[c->size_count++] = parse_size(tok);
    if (c->size_count == 0)
        die("no sizes in \"%s\"", list);
}

static void parse_args(config *c, int argc, char **argv)
{
    const char *dir = ".", *strace = "strace";
    int i;

    memset(c, 0, sizeof *c);
    c->runs = 5;
    parse_sizes(c, "1M,64M,512M");
    for (i = 1; i < argc; i += 2) {
        const char *arg = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        if (!val)
            die("%s needs a value", arg);
        if (!strcmp(arg, "--kservice"))
            c->kservice = val;
        else if (!strcmp(arg, "--dir"))
            dir = val;
        else if (!strcmp(arg, "--runs"))
            c->runs = atoi(val);
        else if (!strcmp(arg, "--sizes"))
            parse_sizes(c, val);
        else if (!strcmp(arg, "--strace"))
            strace = val;
        else
            die("unknown option %s (see the head of tests/bench/bench.c)",
                arg);
    }
    if (!c->kservice)
        die("%s", "--kservice PATH is required");
    if (c->runs < 1 || c->runs > MAX_RUNS)
        die("--runs must be 1 to %s", "64");
    if (c->runs < 5)
        fprintf(stderr, "bench: fewer than 5 runs: a quick look only\n");
    snprintf(c->work, sizeof c->work, "%s/kservice-bench.XXXXXX", dir);
    if (!mkdtemp(c->work))
        die("cannot create a folder in %s", dir);
    read_fs(c->work, c->fs, sizeof c->fs);
    read_load(c->load_before, sizeof c->load_before);
    if (strcmp(strace, "none") != 0) {
        char *probe[] = {(char *)strace, "-f", "-c", "-o", "/dev/null",
                         "true", NULL};
        c->strace = tool_works(probe) ? strace : NULL;
    }
}

/* Drop sizes the file system has no room for: the largest needs about six
 * copies (payload, cp's copy, both slots, the new file, the old rollback
 * kernel not yet freed). */
static void check_space(config *c)
{
    struct statvfs vfs;
    int i, kept = 0;

    if (statvfs(c->work, &vfs) != 0)
        return;
    for (i = 0; i < c->size_count; i++) {
        double free_bytes = (double)vfs.f_bavail * (double)vfs.f_frsize;
        char s[32];
        if ((double)c->sizes[i] * 6 + 256 * MIB > free_bytes) {
            fprintf(stderr, "bench: skipping %s: %.1f GiB free in %s\n",
                    fmt_size(c->sizes[i], s, sizeof s),
                    free_bytes / (MIB * 1024), c->work);
            continue;
        }
        c->sizes[kept++] = c->sizes[i];
    }
    c->size_count = kept;
    if (kept == 0)
        die("no room for any payload in %s", c->work);
}

int main(int argc, char **argv)
{
    static size_result res[MAX_SIZES];
    sha_result sha;
    config c;
    double start = now_s();
    int i;

    parse_args(&c, argc, argv);
    check_space(&c);
    for (i = 0; i < c.size_count; i++)
        bench_size(&c, c.sizes[i], &res[i]);
    fprintf(stderr, "bench: SHA-256 throughput...\n");
    bench_sha(&c, c.sizes[c.size_count - 1], &sha);
    nftw(c.work, remove_entry, 16, FTW_DEPTH | FTW_PHYS);

    print_machine(&c);
    print_installs(&c, res, c.size_count);
    if (c.size_count > 1)
        print_ops(&c, res, c.size_count);
    print_sha(&sha);
    printf("\nTotal benchmark time: %.0f s.\n", now_s() - start);
    return 0;
}
