/*
 * Helpers shared by the cmocka unit tests: a fresh temporary directory per test and a
 * way to run an outside tool (openssl, xxhsum) and read its first output line, so
 * digests are checked against an independent implementation.
 */
#ifndef UC_TEST_H
#define UC_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* cmocka.h needs the four headers above first. */
#include <cmocka.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* mkdtemp under $TMPDIR (or /tmp); the path is malloc'd. */
static inline char *uct_tmpdir(void)
{
    const char *base = getenv("TMPDIR");
    char buf[PATH_MAX];
    snprintf(buf, sizeof(buf), "%s/uctest.XXXXXX", base && *base ? base : "/tmp");
    char *p = mkdtemp(buf);
    assert_non_null(p);
    return strdup(p);
}

static inline void uct_rmrf(char *dir)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
    free(dir);
}

/* Run cmd through the shell and return its first output line (trimmed), or false. */
static inline bool uct_run_line(const char *cmd, char *out, size_t len)
{
    FILE *p = popen(cmd, "r");
    if (!p)
        return false;
    bool ok = fgets(out, (int)len, p) != NULL;
    int st = pclose(p);
    if (!ok || st != 0)
        return false;
    out[strcspn(out, "\r\n")] = 0;
    return true;
}

static inline void uct_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

#endif
