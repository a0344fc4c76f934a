/*
 * The POSIX mock backend: a new simulated machine (ksvc_posix_init_machine),
 * its folders and the hive of its facts.
 */
#include "internal.h"

/* ------------------------------------------------------------------------ */
/* A new simulated machine                                                  */
/* ------------------------------------------------------------------------ */

/* Create ROOT, or accept it when it is an empty folder. */
static int make_root(const char *root)
{
    struct dirent *entry;
    DIR *dir;
    int empty = 1;

    if (mkdir(root, 0755) == 0)
        return KSVC_OK;
    if (errno != EEXIST)
        return map_errno(errno);
    dir = opendir(root);
    if (dir == NULL)
        return errno == ENOTDIR ? KSVC_E_EXISTS : map_errno(errno);
    while ((entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
            empty = 0;
    }
    closedir(dir);
    /* Anything inside might be a machine: never build over it. */
    return empty ? KSVC_OK : KSVC_E_EXISTS;
}

static int set_sz(ksvc__hive *hive, const char *key, const char *name,
                  const char *text)
{
    char path[512];

    snprintf(path, sizeof(path), "%s\\%s", HKLM, key);
    return ksvc__hive_set(hive, path, name, KSVC_REG_SZ, text,
                          strlen(text) + 1);
}

static int set_dword(ksvc__hive *hive, const char *key, const char *name,
                     uint32_t value)
{
    char path[512];

    snprintf(path, sizeof(path), "%s\\%s", HKLM, key);
    return ksvc__hive_set(hive, path, name, KSVC_REG_DWORD, &value,
                          sizeof(value));
}

static int add_key(ksvc__hive *hive, const char *key)
{
    char path[512];

    snprintf(path, sizeof(path), "%s\\%s", HKLM, key);
    return ksvc__hive_add_key(hive, path) ? KSVC_OK : KSVC_E_NO_MEMORY;
}

/* The hive of a machine with the facts of @p m. */
static int machine_hive(const ksvc_mock_machine *m, ksvc__hive **out)
{
    static const char *const arch_names[] = { "x86", "AMD64", "ARM64" };
    ksvc__hive *hive = ksvc__hive_new();
    char build[16];
    int rc;

    *out = NULL;
    if (!hive)
        return KSVC_E_NO_MEMORY;
    snprintf(build, sizeof(build), "%lu", (unsigned long)m->os_build);
    rc = set_sz(hive, KSVC__NT_KEY, "CurrentBuild", build);
    if (rc == KSVC_OK)
        rc = set_sz(hive, KSVC__NT_KEY, "CurrentBuildNumber", build);
    if (rc == KSVC_OK)
        rc = set_dword(hive, KSVC__NT_KEY, "UBR", m->os_ubr);
    if (rc == KSVC_OK && m->reboot_pending)
        rc = add_key(hive, KSVC__REBOOT_KEY);
    if (rc == KSVC_OK)
        rc = add_key(hive, KSVC__LXSS_KEY);
    if (rc == KSVC_OK)
        rc = set_sz(hive, KSVC__ENVIRONMENT_KEY, "PROCESSOR_ARCHITECTURE",
                    arch_names[m->arch]);
    if (rc == KSVC_OK && m->wsl_enabled)
        rc = set_dword(hive, KSVC__LXSSMANAGER_KEY, "Start", 3);
    if (rc != KSVC_OK) {
        ksvc__hive_free(hive);
        return rc;
    }
    *out = hive;
    return KSVC_OK;
}

int ksvc_posix_init_machine(const char *root, const ksvc_mock_machine *machine)
{
    static const ksvc_mock_machine defaults = KSVC_MOCK_MACHINE_INIT;
    posix_backend *b = NULL;
    ksvc__hive *hive = NULL;
    struct stat st;
    int rc;

    if (machine == NULL)
        machine = &defaults;
    if (root == NULL || root[0] == '\0')
        return KSVC_E_INVALID_ARGUMENT;
    if (machine->version != KSVC_MOCK_MACHINE_VERSION)
        return KSVC_E_STRUCT_VERSION;
    if (machine->arch != KSVC_ARCH_UNKNOWN && machine->arch != KSVC_ARCH_X64 &&
        machine->arch != KSVC_ARCH_ARM64)
        return KSVC_E_INVALID_ARGUMENT;
    if (strlen(root) >= PATH_MAX)
        return KSVC_E_TOO_LONG;
    if ((rc = make_root(root)) != KSVC_OK ||
        (rc = backend_new(root, &b)) != KSVC_OK)
        return rc;
    /* make_root accepted an empty folder; check again now that ROOT is
     * open, so a hive that appeared meanwhile is never overwritten. */
    if (fstatat(b->root_fd, HIVE_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0)
        rc = KSVC_E_EXISTS;
    if (rc == KSVC_OK)
        rc = tools_check(b, 1);
    if (rc == KSVC_OK)
        rc = machine_hive(machine, &hive);
    if (rc == KSVC_OK)
        rc = store_hive(b, hive);
    ksvc__hive_free(hive);
    backend_free(b);
    return rc;
}
