/* The one runner of the built qvirt binary for tests (tests/cli and the
 * integration tests): run it and capture what it printed, each test on its
 * own qvirt:///embed?root= temp folder. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>
#include <glib.h>

typedef struct cli_result {
    int status;  /* exit status, or 128 + signal */
    char *out;
    char *err;
} cli_result;

void cli_result_clear(cli_result *r);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(cli_result, cli_result_clear)

/* Runs QVIRT_BIN with argv (NULL-terminated, without the program name). */
void cli_run(cli_result *r, const char *const *argv);
/* Runs `qvirt -c URI ARGS...` (varargs end with NULL). */
void cli_run_uri(cli_result *r, const char *uri, ...) G_GNUC_NULL_TERMINATED;

/* Runs `qvirt -c URI WORDS...` (words NULL-terminated). Returns stdout, or
 * when it fails stdout followed by stderr, so a test can match the error;
 * *status gets the exit status (128 + signal when killed). */
char *cli_run_words(const char *uri, int *status, const char *const *words);

/* A private embed connection: the temp folder and its URI. */
typedef struct cli_env {
    char *root;
    char *uri;
} cli_env;
void cli_env_init(cli_env *e);
void cli_env_clear(cli_env *e);

/* Writes text to a new file in the env's folder; returns the path. */
char *cli_write_file(const cli_env *e, const char *name, const char *text);
/* A minimal TCG domain XML with that name (no guest, never started). */
char *cli_small_xml(const char *name);

/* A qvirt process running in the background with its stdout on a pipe. */
typedef struct cli_bg {
    GPid pid;
    int out_fd;
    GString *out;
} cli_bg;
bool cli_bg_start(cli_bg *bg, const char *const *argv);
/* Reads stdout until it contains text or timeout_ms passes. */
bool cli_bg_wait_for(cli_bg *bg, const char *text, int timeout_ms);
/* Sends sig, reads the rest of stdout and returns the exit status. */
int cli_bg_finish(cli_bg *bg, int sig, int timeout_ms);

/* A fake `ssh` for qvirt+ssh:// tests: writes DIR/bin/ssh, which runs its
 * last argument (the remote command) here with `sh -c` and the test's
 * QVIRT_* settings, appending a line to DIR/ssh.log each time it runs (so
 * a test can tell the connection went through it), and puts DIR/bin first
 * in PATH. Returns qvirt+ssh://fakehost/embed?root=ROOT&command=<qvirt>. */
char *cli_fake_ssh(const char *dir, const char *root);
/* How many times the fake ssh of DIR ran. */
int cli_fake_ssh_runs(const char *dir);
/* How many `qvirt ... remote-serve` processes run whose command line names
 * root (zombies excluded). */
int cli_remote_serves(const char *root);
/* Their pids (a GArray of pid_t the caller unrefs). */
GArray *cli_remote_serve_pids(const char *root);
