/* Whole-file reads with a size cap: the one bounded read every layer uses
 * (state files, configs, /proc). */
#pragma once
#include <stddef.h>

#include "qv-error.h"

/* Reads all of path into *ret (NUL-terminated; *len without the NUL when
 * len is not NULL). -EFBIG when the file holds more than max bytes, so a
 * corrupt or hostile file cannot make the caller allocate without bound. */
int qv_read_file(const char *path, size_t max, char **ret, size_t *len, qv_error **err);

/* Writes all len bytes to fd (a pipe or socket), across short writes,
 * EINTR and, on a non-blocking fd, EAGAIN (it waits for room). 0, or the
 * negative errno of the write that failed. */
int qv_write_all(int fd, const void *buf, size_t len);
