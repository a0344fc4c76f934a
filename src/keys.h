/*
 * The registry keys of libkservice, below HKEY_LOCAL_MACHINE: one place for
 * the core (which reads and writes them) and the backends (the POSIX mock's
 * new machine writes the facts' keys, its arch method reads the
 * environment).  No OS header, nothing but names.
 */
#ifndef KSVC_KEYS_H
#define KSVC_KEYS_H

/* The servicing values (WSL's and libkservice's). */
#define KSVC__LXSS_KEY "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Lxss"
/* CurrentBuild, CurrentBuildNumber, UBR. */
#define KSVC__NT_KEY "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion"
/* Present when WSL's service is installed. */
#define KSVC__LXSSMANAGER_KEY                                                \
    "SYSTEM\\CurrentControlSet\\Services\\LxssManager"
/* Present while Windows waits for a restart to finish servicing. */
#define KSVC__REBOOT_KEY                                                     \
    "SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Component Based "        \
    "Servicing\\RebootPending"
/* PROCESSOR_ARCHITECTURE (the mock's architecture). */
#define KSVC__ENVIRONMENT_KEY                                                \
    "SYSTEM\\CurrentControlSet\\Control\\Session Manager\\Environment"

#endif
