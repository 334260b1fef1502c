/* Whole-file reads with a size cap: the one bounded read every layer uses
 * (state files, configs, /proc). */
#pragma once
#include <stddef.h>

#include "qv-error.h"

/* Reads all of path into *ret (NUL-terminated; *len without the NUL when
 * len is not NULL). -EFBIG when the file holds more than max bytes, so a
 * corrupt or hostile file cannot make the caller allocate without bound. */
int qv_read_file(const char *path, size_t max, char **ret, size_t *len, qv_error **err);
