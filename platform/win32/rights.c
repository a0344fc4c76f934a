/*
 * The Win32 backend: who may change what decides the kernel the machine
 * boots (platform table version 3, write_access), from the owner and the
 * DACL of the tools folder (and the folder above it: whoever may write
 * that may rename the tools folder), of each slot file and of the
 * servicing key.
 *
 * The rule: the owner is SYSTEM, Administrators or TrustedInstaller (an
 * owner may always rewrite the DACL), the object has a DACL (none means
 * everyone may do anything), and no access-allowed entry that applies to
 * the object itself grants Everyone, Authenticated Users, Users,
 * INTERACTIVE or Guests a right that changes it (write or append data,
 * extended attributes or attributes, delete a child, delete, change the
 * permissions or the owner, generic write or all; for the key: set a
 * value, create a subkey or a link, and the same standard rights).  Deny
 * entries are not weighed: an allowed write is reported even when a deny
 * before it would stop it (a finding too many, never one too few).
 *
 * Under Wine every file of the Unix user running it is owned by that
 * user's SID and grants it full access (Wine derives the security of a
 * file from its Unix mode and owner, and keeps no other owner): there,
 * and only there, the running user's SID counts as an administrator, as
 * the POSIX mock counts the user running it.
 */
#include "internal.h"
#include "keys.h"

/* Who counts as an administrator: SYSTEM, Administrators and
 * TrustedInstaller. */
static const char *const admin_sids[] = {
    "S-1-5-18", "S-1-5-32-544",
    "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464"};

/* The groups of everyone who is not an administrator. */
static const struct {
    const char *sid;
    const char *name;
} other_sids[] = {{"S-1-1-0", "Everyone"},
                  {"S-1-5-11", "Authenticated Users"},
                  {"S-1-5-32-545", "Users"},
                  {"S-1-5-4", "INTERACTIVE"},
                  {"S-1-5-32-546", "Guests"}};

/* A right that changes the object, and how people call it. */
typedef struct right_name {
    DWORD bit;
    const char *name;
} right_name;

static const right_name file_rights[] = {
    {FILE_WRITE_DATA, "write data or add files"},
    {FILE_APPEND_DATA, "append data or add folders"},
    {FILE_WRITE_EA, "write extended attributes"},
    {FILE_WRITE_ATTRIBUTES, "write attributes"},
    {FILE_DELETE_CHILD, "delete what is inside"},
    {DELETE, "delete"},
    {WRITE_DAC, "change permissions"},
    {WRITE_OWNER, "take ownership"},
    {GENERIC_WRITE, "generic write"},
    {GENERIC_ALL, "full control"},
    {0, NULL}};

static const right_name key_rights[] = {
    {KEY_SET_VALUE, "set values"},
    {KEY_CREATE_SUB_KEY, "create subkeys"},
    {KEY_CREATE_LINK, "create links"},
    {DELETE, "delete"},
    {WRITE_DAC, "change permissions"},
    {WRITE_OWNER, "take ownership"},
    {GENERIC_WRITE, "generic write"},
    {GENERIC_ALL, "full control"},
    {0, NULL}};

/* The security of a folder the backend makes: SYSTEM and Administrators
 * may do anything, Users may read and run, nothing inherited.  The owner
 * is Administrators when the caller may set it (an administrator). */
#define FOLDER_SDDL_OWNER L"O:BA"
#define FOLDER_SDDL_DACL                                                      \
    L"D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)"

/* What one look found; who and fix are the caller's buffers. */
typedef struct judgement {
    const char *path;       /* as people write it */
    const right_name *rights;
    int folder;             /* a folder: the fix grants to children too */
    int key;                /* the servicing key (fix through PowerShell) */
    unsigned *others;
    char *who;
    size_t who_size;
    char *fix;
    size_t fix_size;
} judgement;

/* Running under Wine, whose files are owned by the Unix user's SID. */
static int under_wine(void)
{
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");

    return ntdll != NULL && GetProcAddress(ntdll, "wine_get_version") != NULL;
}

/* The SID as text ("S-1-5-18"), into @p buf; "" when it cannot be said. */
static void sid_text(PSID sid, char *buf, size_t size)
{
    LPSTR text = NULL;

    buf[0] = '\0';
    if (sid != NULL && os_ConvertSidToStringSidA(sid, &text)) {
        snprintf(buf, size, "%s", text);
        LocalFree(text);
    }
}

/* The SID of the user this process runs as, as text ("" if unknown). */
static void own_user_sid(char *buf, size_t size)
{
    union {
        TOKEN_USER user;
        BYTE room[SECURITY_MAX_SID_SIZE + sizeof(TOKEN_USER)];
    } info;
    HANDLE token;
    DWORD got = 0;

    buf[0] = '\0';
    if (!os_OpenProcessToken(os_GetCurrentProcess(), TOKEN_QUERY, &token))
        return;
    if (os_GetTokenInformation(token, TokenUser, &info, sizeof info, &got))
        sid_text(info.user.User.Sid, buf, size);
    os_CloseHandle(token);
}

static int is_administrator(const char *sid, const char *wine_user)
{
    size_t i;

    for (i = 0; i < sizeof admin_sids / sizeof admin_sids[0]; i++)
        if (strcmp(sid, admin_sids[i]) == 0)
            return 1;
    return wine_user[0] != '\0' && strcmp(sid, wine_user) == 0;
}

static const char *other_name(const char *sid)
{
    size_t i;

    for (i = 0; i < sizeof other_sids / sizeof other_sids[0]; i++)
        if (strcmp(sid, other_sids[i].sid) == 0)
            return other_sids[i].name;
    return NULL;
}

/* The names of the changing rights in @p mask, comma-separated. */
static void rights_text(const right_name *rights, DWORD mask, char *buf,
                        size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (; rights->name != NULL && used < size; rights++)
        if (mask & rights->bit)
            used += (size_t)snprintf(buf + used, size - used, "%s%s",
                                     used ? ", " : "", rights->name);
}

/* The command that gives @p j's object the rights the rule wants. */
static void write_fix(const judgement *j)
{
    const char *inherit = j->folder ? "(OI)(CI)" : "";

    if (j->key) {
        snprintf(j->fix, j->fix_size,
                 "powershell -NoProfile -Command \"$a = Get-Acl -LiteralPath "
                 "'%s'; $a.SetSecurityDescriptorSddlForm('O:BAD:PAI(A;CI;KA;;;"
                 "SY)(A;CI;KA;;;BA)(A;CI;KR;;;BU)'); Set-Acl -LiteralPath "
                 "'%s' -AclObject $a\"",
                 j->path, j->path);
        return;
    }
    snprintf(j->fix, j->fix_size,
             "icacls \"%s\" /setowner *S-1-5-32-544 && icacls \"%s\" "
             "/inheritance:r /grant:r *S-1-5-18:%sF *S-1-5-32-544:%sF "
             "*S-1-5-32-545:%sRX /remove:g *S-1-1-0 *S-1-5-11 *S-1-5-4 "
             "*S-1-5-32-546",
             j->path, j->path, inherit, inherit, inherit);
}

static void finding(const judgement *j, const char *fmt, const char *a,
                    const char *b)
{
    char text[512];

    snprintf(text, sizeof text, fmt, a, b);
    snprintf(j->who, j->who_size, "%s: %s", j->path, text);
    write_fix(j);
    *j->others = 1;
}

/* The first access-allowed entry that lets others change the object. */
static int judge_dacl(const judgement *j, PACL dacl)
{
    char sid[256], granted[512];
    DWORD i;

    if (dacl == NULL) {
        finding(j, "%s%s", "no access list: everyone may do anything", "");
        return 1;
    }
    for (i = 0; i < dacl->AceCount; i++) {
        ACCESS_ALLOWED_ACE *ace;
        const char *name;
        DWORD changing = 0;
        const right_name *r;

        if (!os_GetAce(dacl, i, (LPVOID *)&ace) ||
            ace->Header.AceType != ACCESS_ALLOWED_ACE_TYPE ||
            (ace->Header.AceFlags & INHERIT_ONLY_ACE))
            continue;
        sid_text((PSID)&ace->SidStart, sid, sizeof sid);
        name = other_name(sid);
        for (r = j->rights; r->name != NULL; r++)
            changing |= ace->Mask & r->bit;
        if (name == NULL || changing == 0)
            continue;
        rights_text(j->rights, changing, granted, sizeof granted);
        finding(j, "%s may change it (%s)", name, granted);
        return 1;
    }
    return 0;
}

static void judge(const judgement *j, PSID owner, PACL dacl)
{
    char owner_sid[256], wine_user[256] = "";

    if (under_wine())
        own_user_sid(wine_user, sizeof wine_user);
    sid_text(owner, owner_sid, sizeof owner_sid);
    if (!is_administrator(owner_sid, wine_user)) {
        finding(j, "owned by %s, who may change its permissions%s",
                owner_sid[0] ? owner_sid : "an unknown account", "");
        return;
    }
    judge_dacl(j, dacl);
}

/* Read the owner and DACL through @p handle and judge them.  A security
 * descriptor this caller may not read is "cannot tell", not a failure. */
static int judge_handle(backend *b, HANDLE handle, SE_OBJECT_TYPE type,
                        const judgement *j)
{
    PSECURITY_DESCRIPTOR sd = NULL;
    PSID owner = NULL;
    PACL dacl = NULL;
    DWORD err = os_GetSecurityInfo(handle, type,
                                   OWNER_SECURITY_INFORMATION |
                                       DACL_SECURITY_INFORMATION,
                                   &owner, NULL, &dacl, NULL, &sd);

    if (err == ERROR_ACCESS_DENIED) {
        snprintf(j->who, j->who_size, "%s: cannot tell (its permissions "
                                      "cannot be read)",
                 j->path);
        return KSVC_OK;
    }
    if (err != ERROR_SUCCESS)
        return fail(b, map_error(err), err, "GetSecurityInfo", j->path);
    judge(j, owner, dacl);
    LocalFree(sd);
    return KSVC_OK;
}

static int is_missing(DWORD err)
{
    return err == ERROR_FILE_NOT_FOUND || err == ERROR_PATH_NOT_FOUND;
}

/* Judge the file or folder at the \\?\ path @p wpath. */
static int judge_file(backend *b, const wchar_t *wpath, const judgement *j)
{
    HANDLE h = os_CreateFileW(wpath, READ_CONTROL,
                              FILE_SHARE_READ | FILE_SHARE_WRITE |
                                  FILE_SHARE_DELETE,
                              NULL, OPEN_EXISTING,
                              FILE_FLAG_BACKUP_SEMANTICS |
                                  FILE_FLAG_OPEN_REPARSE_POINT,
                              NULL);
    DWORD err;
    int rc;

    if (h == INVALID_HANDLE_VALUE) {
        err = GetLastError();
        if (is_missing(err))
            return KSVC_OK;
        if (err == ERROR_ACCESS_DENIED) {
            snprintf(j->who, j->who_size, "%s: cannot tell (it cannot be "
                                          "opened to read its permissions)",
                     j->path);
            return KSVC_OK;
        }
        return fail(b, map_error(err), err, "CreateFileW", j->path);
    }
    rc = judge_handle(b, h, SE_FILE_OBJECT, j);
    os_CloseHandle(h);
    return rc;
}

/* Judge the file or folder at @p wpath, named in messages as people
 * write it. */
static int judge_named(backend *b, const wchar_t *wpath, judgement *j)
{
    char *display = display_path(wpath);
    int rc;

    if (display == NULL)
        return fail(b, KSVC_E_NO_MEMORY, 0, "write access", "path");
    j->path = display;
    rc = judge_file(b, wpath, j);
    j->path = NULL;
    free(display);
    return rc;
}

/* The tools folder, then the folder above it. */
static int judge_tools(backend *b, judgement *j)
{
    wchar_t *parent, *sep;
    int rc;

    j->folder = 1;
    rc = judge_named(b, b->tools, j);
    if (rc != KSVC_OK || *j->others)
        return rc;
    parent = wide_concat(b->tools, NULL);
    if (parent == NULL)
        return fail(b, KSVC_E_NO_MEMORY, 0, "write access", b->tools_display);
    sep = wcsrchr(parent, L'\\');
    if (sep != NULL && sep - parent > 7) { /* below "\\?\C:\" */
        *sep = 0;
        rc = judge_named(b, parent, j);
    }
    free(parent);
    return rc;
}

static int judge_slot(backend *b, const char *name, judgement *j)
{
    wchar_t *wpath = NULL;
    int rc = tools_child(b, name, &wpath);

    if (rc == KSVC_OK)
        rc = judge_named(b, wpath, j);
    free(wpath);
    return rc;
}

/* The servicing key, as PowerShell names it ("HKLM:\SOFTWARE\..."). */
static int judge_key(backend *b, judgement *j)
{
    wchar_t *wkey = NULL;
    char *key_utf8 = NULL, where[2048];
    HKEY h;
    LSTATUS st;
    int rc = reg_path(b, KSVC__LXSS_KEY, &wkey);

    if (rc != KSVC_OK)
        return rc;
    key_utf8 = utf8_from_wide(wkey, -1, NULL);
    snprintf(where, sizeof where, "%s:\\%s",
             b->hive == HKEY_CURRENT_USER ? "HKCU" : "HKLM",
             key_utf8 != NULL ? key_utf8 : KSVC__LXSS_KEY);
    free(key_utf8);
    j->key = 1;
    j->path = where;
    st = os_RegOpenKeyExW(b->hive, wkey, 0, READ_CONTROL | KEY_WOW64_64KEY,
                          &h);
    free(wkey);
    if (st == ERROR_FILE_NOT_FOUND)
        rc = KSVC_OK;
    else if (st == ERROR_ACCESS_DENIED)
        snprintf(j->who, j->who_size, "%s: cannot tell (its permissions "
                                      "cannot be read)",
                 where);
    else if (st != ERROR_SUCCESS)
        rc = fail_reg(b, st, "RegOpenKeyExW", KSVC__LXSS_KEY, NULL);
    else {
        rc = judge_handle(b, (HANDLE)h, SE_REGISTRY_KEY, j);
        os_RegCloseKey(h);
    }
    j->path = NULL;
    return rc;
}

int w32_write_access(const ksvc_platform *p, const char *name,
                     unsigned *others_may_write, char *who, size_t who_size,
                     char *fix, size_t fix_size)
{
    backend *b = backend_of(p);
    judgement j;

    if (others_may_write == NULL || who == NULL || who_size == 0 ||
        fix == NULL || fix_size == 0)
        return fail(b, KSVC_E_INVALID_ARGUMENT, 0, "write access",
                    "no room for the answer");
    *others_may_write = 0;
    who[0] = fix[0] = '\0';
    memset(&j, 0, sizeof j);
    j.others = others_may_write;
    j.who = who;
    j.who_size = who_size;
    j.fix = fix;
    j.fix_size = fix_size;
    j.rights = name == NULL ? key_rights : file_rights;
    if (name == NULL)
        return judge_key(b, &j);
    if (name[0] == '\0')
        return judge_tools(b, &j);
    return judge_slot(b, name, &j);
}

BOOL secure_folder_attributes(SECURITY_ATTRIBUTES *sa, int with_owner)
{
    PSECURITY_DESCRIPTOR sd = NULL;

    if (!os_ConvertStringSecurityDescriptorToSecurityDescriptorW(
            with_owner ? FOLDER_SDDL_OWNER FOLDER_SDDL_DACL : FOLDER_SDDL_DACL,
            SDDL_REVISION_1, &sd, NULL))
        return FALSE;
    sa->nLength = sizeof *sa;
    sa->lpSecurityDescriptor = sd;
    sa->bInheritHandle = FALSE;
    return TRUE;
}
