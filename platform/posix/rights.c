/*
 * The POSIX mock backend: who may change what decides the kernel the
 * machine boots (platform table version 3, write_access).
 *
 * The rule: the owner is root or the user this process runs as, and no
 * group or other write bit is set.  The mock simulates the administrator
 * as whoever runs it (a developer's test run is not root), so that user
 * counts as an administrator here; on a real machine it is root.  A sticky
 * bit does not help: on a folder it still lets others add names (a missing
 * `kernel` among them), on a file it means nothing.  Links are never
 * followed, and a link is no finding here: the slot classes refuse a link
 * in a slot's place, and the hive reader refuses one in the hive's.
 */
#include "internal.h" /* first: it sets the feature macros */

#include <grp.h>
#include <pwd.h>

/* Room for the name lookups of getpwuid_r and getgrgid_r. */
#define NAME_LOOKUP_ROOM 1024

static int owner_is_administrator(uid_t uid)
{
    return uid == 0 || uid == geteuid();
}

static void user_name(uid_t uid, char *buf, size_t size)
{
    char room[NAME_LOOKUP_ROOM];
    struct passwd pw, *found = NULL;

    if (getpwuid_r(uid, &pw, room, sizeof room, &found) == 0 && found)
        snprintf(buf, size, "user '%s'", found->pw_name);
    else
        snprintf(buf, size, "uid %lu", (unsigned long)uid);
}

static void group_name(gid_t gid, char *buf, size_t size)
{
    char room[NAME_LOOKUP_ROOM];
    struct group gr, *found = NULL;

    if (getgrgid_r(gid, &gr, room, sizeof room, &found) == 0 && found)
        snprintf(buf, size, "group '%s'", found->gr_name);
    else
        snprintf(buf, size, "gid %lu", (unsigned long)gid);
}

/* @p path between single quotes for sh: a quote inside becomes '\''. */
static void shell_quote(const char *path, char *buf, size_t size)
{
    size_t used = 0;

    if (size < 3) {
        if (size > 0)
            buf[0] = '\0';
        return;
    }
    buf[used++] = '\'';
    for (; *path && used + 5 < size; path++) {
        if (*path == '\'') {
            memcpy(buf + used, "'\\''", 4);
            used += 4;
        } else {
            buf[used++] = *path;
        }
    }
    buf[used++] = '\'';
    buf[used] = '\0';
}

/* Judge one object that stat found at @p path; 1 when others may write
 * it, with @p who and @p fix filled. */
static int judge(const struct stat *st, const char *path, char *who,
                 size_t who_size, char *fix, size_t fix_size)
{
    char owner[128], group[128], quoted[PATH_MAX * 4 + 3];
    int bad_owner = !owner_is_administrator(st->st_uid);
    int group_write = (st->st_mode & S_IWGRP) != 0;
    int other_write = (st->st_mode & S_IWOTH) != 0;
    unsigned mode = (unsigned)(st->st_mode & 07777);

    if (S_ISLNK(st->st_mode) || (!bad_owner && !group_write && !other_write))
        return 0;
    user_name(st->st_uid, owner, sizeof owner);
    group_name(st->st_gid, group, sizeof group);
    if (bad_owner)
        snprintf(who, who_size, "%s: owned by %s, who may change it and its "
                                "mode (mode %04o)",
                 path, owner, mode);
    else if (group_write && other_write)
        snprintf(who, who_size, "%s: %s and everyone else may write (mode "
                                "%04o)",
                 path, group, mode);
    else if (group_write)
        snprintf(who, who_size, "%s: %s may write (mode %04o)", path, group,
                 mode);
    else
        snprintf(who, who_size, "%s: everyone may write (mode %04o)", path,
                 mode);
    shell_quote(path, quoted, sizeof quoted);
    if (bad_owner)
        snprintf(fix, fix_size, "chown root:root %s && chmod go-w %s",
                 quoted, quoted);
    else
        snprintf(fix, fix_size, "chmod go-w %s", quoted);
    return 1;
}

/* lstat @p rel below ROOT ("" is ROOT itself) and judge it; a missing
 * name is no finding. */
static int check_below_root(posix_backend *b, const char *rel,
                            unsigned *others, char *who, size_t who_size,
                            char *fix, size_t fix_size, int *missing)
{
    char path[PATH_MAX + 1];
    struct stat st;
    int rc = rel[0] ? fstatat(b->root_fd, rel, &st, AT_SYMLINK_NOFOLLOW)
                    : fstat(b->root_fd, &st);

    snprintf(path, sizeof path, "%s%s%s", b->root, rel[0] ? "/" : "", rel);
    *missing = 0;
    if (rc != 0 && (errno == ENOENT || errno == ENOTDIR)) {
        *missing = 1;
        return KSVC_OK;
    }
    if (rc != 0)
        return os_fail(b, errno, path, "stat");
    *others = (unsigned)judge(&st, path, who, who_size, fix, fix_size);
    return KSVC_OK;
}

/* ROOT, System32, lxss and tools, top down: whoever may write a folder may
 * rename what is in it, so the first one others may write is the finding. */
static int check_tools_chain(posix_backend *b, unsigned *others, char *who,
                             size_t who_size, char *fix, size_t fix_size)
{
    char rel[PATH_MAX + 1] = "";
    size_t i, len;
    int missing = 0, rc;

    rc = check_below_root(b, rel, others, who, who_size, fix, fix_size,
                          &missing);
    for (i = 0; rc == KSVC_OK && !*others && !missing &&
                i < sizeof(tools_components) / sizeof(tools_components[0]);
         i++) {
        len = strlen(rel);
        snprintf(rel + len, sizeof rel - len, "%s%s", len ? "/" : "",
                 tools_components[i]);
        rc = check_below_root(b, rel, others, who, who_size, fix, fix_size,
                              &missing);
    }
    return rc;
}

static int check_slot(posix_backend *b, const char *name, unsigned *others,
                      char *who, size_t who_size, char *fix, size_t fix_size)
{
    char path[PATH_MAX + 1];
    struct stat st;
    int rc = check_slot_name(b, name);

    if (rc == KSVC_OK)
        rc = lstat_slot(b, name, &st);
    if (rc == KSVC_E_NOT_FOUND) {
        b->what[0] = '\0';
        b->os_error = 0;
        return KSVC_OK;
    }
    if (rc != KSVC_OK)
        return rc;
    *others = (unsigned)judge(&st, slot_path(b, name, path, sizeof path), who,
                              who_size, fix, fix_size);
    return KSVC_OK;
}

int backend_write_access(const ksvc_platform *p, const char *name,
                         unsigned *others_may_write, char *who,
                         size_t who_size, char *fix, size_t fix_size)
{
    posix_backend *b = backend_of(p);
    int missing;

    if (others_may_write == NULL || who == NULL || who_size == 0 ||
        fix == NULL || fix_size == 0)
        return set_error(b, KSVC_E_INVALID_ARGUMENT, 0,
                         "write_access: no room for the answer");
    *others_may_write = 0;
    who[0] = fix[0] = '\0';
    if (name == NULL)
        return check_below_root(b, HIVE_NAME, others_may_write, who, who_size,
                                fix, fix_size, &missing);
    if (name[0] == '\0')
        return check_tools_chain(b, others_may_write, who, who_size, fix,
                                 fix_size);
    return check_slot(b, name, others_may_write, who, who_size, fix,
                      fix_size);
}
