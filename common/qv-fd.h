/* File descriptors closed by scope (crun's cleanup_close): a function
 * that holds several needs no block of close() calls on its way out. */
#pragma once
#include <unistd.h>

static inline void qv_closep(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}
#define qv_autoclose __attribute__((cleanup(qv_closep)))

/* Hands the fd over: the variable no longer closes it. */
static inline int qv_steal_fd(int *fd)
{
    int r = *fd;
    *fd = -1;
    return r;
}
