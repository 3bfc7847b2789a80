/*
 * Small file-system helpers for the crash-safe publish path.
 */
#ifndef UC_FSUTIL_H
#define UC_FSUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* write() until all of buf is written; returns 0 or -errno. */
int uc_write_all(int fd, const void *buf, size_t len);
#define UC_DIRECT_ALIGN 4096 /* what O_DIRECT asks of buffers, offsets and lengths here */

/*
 * uc_write_all() through O_DIRECT while *direct and len is a multiple of UC_DIRECT_ALIGN (buf and
 * the file offset aligned by the caller); otherwise, or when the file system refuses
 * direct I/O, O_DIRECT is cleared on fd, *direct set false, and the bytes go through
 * the page cache. With O_DIRECT the device reads the caller's buffer: the bytes just
 * hashed there are the bytes written, with no copy into the page cache (which costs
 * more kernel CPU than hashing them, and pushes the daemon's hot files out).
 */
int uc_write_maybe_direct(int fd, bool *direct, const void *buf, size_t len);
/* pwrite()/pread() all of len bytes at off; 0 or -errno (-EIO: end of file first). */
int uc_pwrite_all(int fd, const void *buf, size_t len, uint64_t off);
int uc_pread_all(int fd, void *buf, size_t len, uint64_t off);
/* fsync a directory by fd or by path; returns 0 or -errno. */
int uc_fsync_dirfd(int dirfd);
int uc_fsync_path(const char *path);
/* mkdir that accepts an existing directory; returns 0 or -errno. */
int uc_mkdir_at(int dirfd, const char *name, mode_t mode);
/*
 * Write data to path opened with O_WRONLY | O_CREAT | O_CLOEXEC | extra_flags (e.g.
 * O_EXCL to refuse an existing file, O_TRUNC to replace it), set mode, fsync, close.
 * Returns 0 or -errno.
 */
int uc_write_file(const char *path, const void *data, size_t len, mode_t mode, int extra_flags);
/*
 * Replace path with data atomically: write a temporary sibling, fsync, rename, fsync
 * the directory. mode applies to the new file. Returns 0 or -errno.
 */
int uc_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode);
/*
 * Replace an existing file's bytes the same way, as an editor that keeps what the
 * operator set would: a symlink is followed (its target is replaced, the link stays),
 * and the new file keeps the old one's mode, owner and group. *real, when non-NULL,
 * gets the path written (malloc'd). Returns 0 or -errno.
 */
int uc_rewrite_file(const char *path, const void *data, size_t len, char **real);
/*
 * openat() of a path below dirfd that follows no symbolic link in any of its parts and
 * cannot leave dirfd (openat2 RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS): how store files
 * are opened, so a link planted in the store never redirects a read or a write.
 * Returns the fd or -errno (-ELOOP for a link, -EXDEV for an escape).
 */
int uc_open_beneath(int dirfd, const char *path, int flags, mode_t mode);
/* Read a whole (small) file into a malloc'd NUL-terminated buffer; max bounds it. */
int uc_read_file(const char *path, size_t max, char **out, size_t *out_len);

#endif
