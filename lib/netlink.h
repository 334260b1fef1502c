/* Host network links qvirt makes and changes for a domain's interfaces,
 * over rtnetlink: macvtaps for direct interfaces, bridge port flags, and
 * the record of what a run made, so the run's end removes it. */
#pragma once

#include <stdbool.h>

#include "qv-error.h"

/* Makes macvtap *name (a free "macvtapN" when *name is empty) on link
 * `lower`, in mode (vepa, bridge, private, passthrough), with the MAC
 * mac. Returns the new link's ifindex. */
int qv_nl_macvtap_add(char name[16], const char *lower, const char *mode,
                      const unsigned char mac[6], qv_error **err);
/* Removes link name; a link already gone is no error. */
int qv_nl_link_del(const char *name);
/* Sets the MAC of virtual function vf of SR-IOV physical function pf
 * (IFLA_VF_MAC), which the VF's guest driver then uses. */
int qv_nl_vf_set_mac(const char *pf, int vf, const unsigned char mac[6], qv_error **err);
/* Sets bridge port name's isolated flag (IFLA_BRPORT_ISOLATED). */
int qv_nl_brport_isolated(const char *name, bool on, qv_error **err);

/* The file of a run's domain folder listing the host links it made, one
 * a line: "macvtap NAME" or "ovs BRIDGE PORT". */
#define QV_RT_HOST_LINKS "host-links"
/* Appends one line to dir's host-links file. */
int qv_rt_host_link_record(const char *dir, const char *line, qv_error **err);
/* Removes the link of kind ("macvtap", "ovs") named name (its last field)
 * from the host and from dir's record (a detached interface). */
void qv_rt_host_link_release(const char *dir, const char *kind, const char *name);
/* Removes every link dir's host-links file names (the run ended). */
void qv_rt_host_links_release(const char *dir);
