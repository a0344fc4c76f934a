/*
 * Find the message box an installer shows, print its text and press OK:
 * how tests/msi/run.sh checks that a refusal reaches the screen when
 * msiexec runs with a UI (/qb) on a virtual X display.
 *
 *   msgbox.exe TITLE SECONDS
 *
 * Waits up to SECONDS for a dialog box titled TITLE, prints the text of its
 * message (UTF-8, one line) and closes it with OK.  Exit status 0 when a box
 * was found, 1 when none came.
 */
#include <windows.h>

#include <stdio.h>
#include <stdlib.h>

/* The control id of the message text in a MessageBox dialog. */
#define MSGBOX_TEXT_ID 0xFFFF

static int print_utf8(const wchar_t *text)
{
    char buf[4096];
    int n = WideCharToMultiByte(CP_UTF8, 0, text, -1, buf, sizeof buf, NULL,
                                NULL);

    if (n <= 0)
        return 0;
    printf("%s\n", buf);
    fflush(stdout);
    return 1;
}

int wmain(int argc, wchar_t **argv)
{
    wchar_t text[2048];
    int seconds, waited_ms;
    HWND box = NULL;

    if (argc != 3) {
        fprintf(stderr, "usage: msgbox.exe TITLE SECONDS\n");
        return 2;
    }
    seconds = _wtoi(argv[2]);
    /* "#32770" is the window class of dialog boxes, MessageBox's too. */
    for (waited_ms = 0; waited_ms <= seconds * 1000 && !box; waited_ms += 200) {
        box = FindWindowW(L"#32770", argv[1]);
        if (!box)
            Sleep(200);
    }
    if (!box) {
        fprintf(stderr, "msgbox: no dialog titled as asked within %d s\n",
                seconds);
        return 1;
    }
    text[0] = 0;
    GetDlgItemTextW(box, MSGBOX_TEXT_ID, text, (int)(sizeof text / sizeof *text));
    print_utf8(text);
    PostMessageW(box, WM_COMMAND, MAKEWPARAM(IDOK, BN_CLICKED), 0);
    return 0;
}
