/* Shared by test-qemu.c (the golden cases) and test-corpus.c (the real-world
 * corpus): a domain XML's argv started by a real QEMU with -S under TCG, then
 * checked over QMP: every -device id is in /machine/peripheral, every disk in
 * query-block, every -chardev in query-chardev. XML paths under
 * QEMU_START_FAKE_ROOT are mapped to a fixture folder with real images. */
#pragma once

#include <glib.h>

#include "domxml.h"

#define QEMU_START_FAKE_ROOT "/var/lib/qvirt-test"

typedef enum {
    QEMU_START_OK,           /* started and checked (problems may be in failures) */
    QEMU_START_SKIPPED,      /* needs something this host lacks; *message says what */
    QEMU_START_PARSE_FAILED, /* *message: the parser's error */
    QEMU_START_BUILD_FAILED, /* *message: the argv builder's error */
} qemu_start_result;

/* A temp folder with the images, shared folder and kernel the cases name;
 * qemu_start_fixture_remove() deletes it. */
char *qemu_start_fixture(void);
void qemu_start_fixture_remove(const char *dir);
/* The argv of xml (paths mapped into fixture), started and checked. What
 * QEMU refused or lacked is appended to failures as "name: ...\n" lines.
 * networks NULL: golden_networks. */
qemu_start_result qemu_start_check(const char *name, const char *xml, const char *fixture,
                                   const qv_network_resolution *networks, unsigned int n_networks,
                                   GString *failures, char **message);
/* qemu-system-x86_64 and qemu-img are installed. */
bool qemu_start_available(void);
