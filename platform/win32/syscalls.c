/*
 * The Win32 backend: the call table every Win32 call goes through (SQLite
 * os_win style), so that a test can make any one of them fail; the hooks
 * are declared in syscalls.h for the library's own tests.
 */
#include "internal.h"

struct syscall syscalls[SYS_COUNT_] = {
#define KSVC_SYSCALL_ENTRY_(name, ret, args)                                  \
    { #name, NULL, (ksvc__win32_syscall_ptr)name, (ksvc__win32_syscall_ptr)name },
#define KSVC_SYSCALL_ENTRY_D_(name, ret, args, dll) { #name, dll, NULL, NULL },
    KSVC_WIN32_SYSCALLS(KSVC_SYSCALL_ENTRY_, KSVC_SYSCALL_ENTRY_D_)
};
/* Look up the calls that older Windows lacks.  Idempotent, so it is simply
 * run before every use of the table from outside. */
void syscalls_resolve(void)
{
    static volatile LONG resolved = 0;
    size_t i;

    if (resolved)
        return;
    for (i = 0; i < SYS_COUNT_; i++) {
        struct syscall *s = &syscalls[i];
        HMODULE module;
        if (s->dll == NULL || s->system != NULL)
            continue;
        module = GetModuleHandleW(s->dll);
        if (module == NULL)
            continue;
        s->system = (ksvc__win32_syscall_ptr)GetProcAddress(module, s->name);
        if (s->current == NULL)
            s->current = s->system;
    }
    resolved = 1;
}

static struct syscall *syscall_find(const char *name)
{
    size_t i;

    if (name == NULL)
        return NULL;
    for (i = 0; i < SYS_COUNT_; i++)
        if (strcmp(syscalls[i].name, name) == 0)
            return &syscalls[i];
    return NULL;
}

int ksvc__win32_syscall_set(const char *name, ksvc__win32_syscall_ptr fn)
{
    struct syscall *s;
    size_t i;

    syscalls_resolve();
    if (name == NULL) {
        for (i = 0; i < SYS_COUNT_; i++)
            syscalls[i].current = syscalls[i].system;
        return KSVC_OK;
    }
    s = syscall_find(name);
    if (s == NULL)
        return KSVC_E_NOT_FOUND;
    s->current = fn != NULL ? fn : s->system;
    return KSVC_OK;
}

ksvc__win32_syscall_ptr ksvc__win32_syscall_get(const char *name)
{
    struct syscall *s;

    syscalls_resolve();
    s = syscall_find(name);
    return s != NULL ? s->current : NULL;
}

const char *ksvc__win32_syscall_next(const char *name)
{
    struct syscall *s;

    if (name == NULL)
        return syscalls[0].name;
    s = syscall_find(name);
    if (s == NULL || s + 1 >= syscalls + SYS_COUNT_)
        return NULL;
    return s[1].name;
}
