/*
 * File-system helpers: complete writes, directory fsync and atomic replacement, the
 * building blocks of "write to tmp, fsync, rename, fsync the directory".
 */
#include "fsutil.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

int uc_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -errno;
        if (n == 0)
            return -EIO;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int uc_write_maybe_direct(int fd, bool *direct, const void *buf, size_t len)
{
    if (*direct && len % UC_DIRECT_ALIGN == 0) {
        int rc = uc_write_all(fd, buf, len);
        if (rc != -EINVAL)
            return rc;
    }
    if (*direct) {
        int fl = fcntl(fd, F_GETFL);
        if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_DIRECT))
            return -errno;
        *direct = false;
    }
    return uc_write_all(fd, buf, len);
}

static int positioned_all(int fd, char *p, size_t len, uint64_t off, bool write)
{
    while (len) {
        ssize_t n = write ? pwrite(fd, p, len, (off_t)off) : pread(fd, p, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return n < 0 ? -errno : -EIO;
        p += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

int uc_pwrite_all(int fd, const void *buf, size_t len, uint64_t off)
{
    return positioned_all(fd, (char *)buf, len, off, true);
}

int uc_pread_all(int fd, void *buf, size_t len, uint64_t off)
{
    return positioned_all(fd, buf, len, off, false);
}

int uc_fsync_dirfd(int dirfd)
{
    return fsync(dirfd) ? -errno : 0;
}

int uc_fsync_path(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int rc = uc_fsync_dirfd(fd);
    close(fd);
    return rc;
}

int uc_mkdir_at(int dirfd, const char *name, mode_t mode)
{
    if (mkdirat(dirfd, name, mode) == 0 || errno == EEXIST)
        return 0;
    return -errno;
}

int uc_write_file(const char *path, const void *data, size_t len, mode_t mode, int extra_flags)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | extra_flags, mode);
    if (fd < 0)
        return -errno;
    int rc = uc_write_all(fd, data, len);
    if (!rc && fchmod(fd, mode))
        rc = -errno;
    if (!rc && fsync(fd))
        rc = -errno;
    if (close(fd) && !rc)
        rc = -errno;
    return rc;
}

int uc_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
    char tmp[PATH_MAX], dir[PATH_MAX];
    if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= sizeof(tmp))
        return -ENAMETOOLONG;
    int rc = uc_write_file(tmp, data, len, mode, O_TRUNC);
    if (!rc && rename(tmp, path))
        rc = -errno;
    if (rc) {
        unlink(tmp);
        return rc;
    }
    snprintf(dir, sizeof(dir), "%s", path);
    return uc_fsync_path(dirname(dir));
}

int uc_rewrite_file(const char *path, const void *data, size_t len, char **real)
{
    char target[PATH_MAX], tmp[PATH_MAX + 32];
    struct stat sb;
    if (!realpath(path, target) || stat(target, &sb))
        return -errno;
    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", target, (int)getpid());
    /* Created owner-only: the bytes may be secrets; the old mode is set once it is ours. */
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return -errno;
    int rc = uc_write_all(fd, data, len);
    if (!rc && (sb.st_uid != geteuid() || sb.st_gid != getegid()) &&
        fchown(fd, sb.st_uid, sb.st_gid))
        rc = -errno;
    if (!rc && fchmod(fd, sb.st_mode & 07777))
        rc = -errno;
    if (!rc && fsync(fd))
        rc = -errno;
    if (close(fd) && !rc)
        rc = -errno;
    if (!rc && rename(tmp, target))
        rc = -errno;
    if (rc) {
        unlink(tmp);
        return rc;
    }
    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", target);
    rc = uc_fsync_path(dirname(dir));
    if (!rc && real && !(*real = strdup(target)))
        rc = -ENOMEM;
    return rc;
}

int uc_read_file(const char *path, size_t max, char **out, size_t *out_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    struct stat st = {0};
    if (fstat(fd, &st) || (size_t)st.st_size > max) {
        int rc = (size_t)st.st_size > max ? -EFBIG : -errno;
        close(fd);
        return rc;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    int rc = buf ? 0 : -ENOMEM;
    while (!rc && got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            rc = n < 0 ? -errno : -EIO;
        else
            got += (size_t)n;
    }
    close(fd);
    if (rc) {
        free(buf);
        return rc;
    }
    buf[got] = 0;
    *out = buf;
    *out_len = got;
    return 0;
}

int uc_open_beneath(int dirfd, const char *path, int flags, mode_t mode)
{
    struct open_how how = {.flags = (uint64_t)flags | O_NOFOLLOW,
                           .mode = flags & (O_CREAT | O_TMPFILE) ? mode : 0,
                           .resolve =
                               RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
    int fd, tries = 0;
    do /* EAGAIN: a rename raced the lookup; bounded, so a busy directory cannot spin us */
        fd = (int)syscall(SYS_openat2, dirfd, path, &how, sizeof(how));
    while (fd < 0 && errno == EAGAIN && ++tries < 8);
    return fd < 0 ? -errno : fd;
}
