/* What bench/lifecycle and bench/libvirt share: timing, the result lines
 * bench/report.py reads, child processes, RSS and the guest's domain XML. */
#pragma once

#include <sys/resource.h>
#include <sys/types.h>

double now_us(void);

/* Up to 256 samples of one figure; emit prints its result line:
 *   @ FIGURE SIDE UNIT MEDIAN MIN MAX N */
typedef struct series { double v[256]; int n; } series;
void add(series *s, double v);
void emit(const char *figure, const char *side, const char *unit, series *s);
void emit1(const char *figure, const char *side, const char *unit, double v);
/* The median emit() would print, leaving s in its order (rounds paired
 * across series stay paired). */
double median_of(const series *s);

/* Runs fn on n threads at once, each on its own element of args (size bytes
 * apart): they are all started and waiting before the clock starts, and
 * it stops when the last one has returned. Returns the ms in between. */
double at_once(int n, void *(*fn)(void *), void *args, size_t size);

/* Runs argv (stdout to /dev/null) without waiting. */
pid_t spawn(char *const argv[]);
/* Waits for pid; exits the benchmark unless it exited 0. */
void reap_ok(pid_t pid, const char *what, struct rusage *ru);

/* VmRSS in KiB of /proc/PID ("self" for this process); 0 if unreadable. */
long rss_of(const char *pid);

/* The test guest under TCG: 256 MiB, 1 vCPU, a balloon with stats period 1. */
char *domain_xml(const char *name, const char *guest_dir);
