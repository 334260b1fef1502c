/* Helpers shared by domain-block.c and domain-iface.c (disks and interfaces
 * of domains). */
#pragma once

#include "internal.h"

/* Fails with "domain 'x' is not running" unless the domain is active. */
/* One QMP command; errors gain the domain's name. Consumes args. */
/* Resolves AFFECT_CURRENT to LIVE or CONFIG and checks the flags make sense
 * for the domain (live needs it running, config needs it persistent). With
 * single, LIVE and CONFIG together are refused (the get calls). */
int qv_blk_resolve_affect(qv_domain *dom, unsigned int *flags, bool single, const char *what,
                          qv_error **err);
/* The live definition as a private copy, and writing it back. */
/* True when a query-block/query-blockstats entry belongs to the device with
 * qdev id alias. */
bool qv_blk_entry_is(json_object *entry, const char *alias);
