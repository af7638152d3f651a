/* lanspread plugin SDK — the discovery interface, "lanspread.discovery/1".
 *
 * Pure C (C11 and C++20 clean), no dependencies.
 *
 * Discovery advertises this peer on the LAN and reports other peers as they appear and
 * vanish (mDNS/DNS-SD, for one). It only finds; the kernel connects and authenticates.
 * Threads: every member and every callback runs on the reactor thread. */
#ifndef LANSPREAD_KINDS_DISCOVERY_H
#define LANSPREAD_KINDS_DISCOVERY_H

#include <stdint.h>

#include "../host.h"
#include "../status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LANSPREAD_DISCOVERY_INTERFACE_ID "lanspread.discovery/1"

/* Whether discovery works, reported through host->emit_event (no ABI member: the event bus is
 * the channel). Topic LANSPREAD_DISCOVERY_STATE_TOPIC, payload
 *   {"plugin":"<your plugin id>","state":"working"|"not-working","reason":"<why not>"}
 * where reason is a short phrase a frontend can put in a sentence ("avahi-daemon is not
 * running"), "" when working. Emit it when the state changes: on the reactor thread inside
 * advertise()/browse() when the daemon is unreachable at once, and later when it comes back
 * or goes away. The kernel shows the latest one in status "discovery"; a plugin that never
 * emits it is "working" when advertise() and browse() returned OK, "not-working" otherwise.
 * Every frontend sees the event too, in the usual line shape. */
#define LANSPREAD_DISCOVERY_STATE_TOPIC "discovery-state"

/* Plugin-defined handles. */
typedef struct lanspread_discovery_advert lanspread_discovery_advert;
typedef struct lanspread_discovery_browse lanspread_discovery_browse;

/* A service to advertise. Implemented by: host. Ownership: borrowed for the call. */
typedef struct lanspread_service_record {
    uint32_t struct_size;
    const char *service_type;  /* "_lanspread._udp" */
    const char *instance_name; /* preferred name; the plugin resolves conflicts itself */
    uint16_t port;
    const char *const *txt; /* NULL-terminated "key=value" strings, or NULL */
} lanspread_service_record;

/* A service found on the network. Implemented by: plugin. Ownership: borrowed for the
 * callback. */
typedef struct lanspread_discovered_service {
    uint32_t struct_size;
    const char *instance_name;
    const char *address; /* numeric IPv4 or IPv6 address */
    uint16_t port;
    const char *const *txt; /* NULL-terminated "key=value" strings */
} lanspread_discovered_service;

/* Callbacks from discovery to host. Implemented by: host. Ownership: table and user_data
 * must outlive the browse; no callback after stop_browse() returns. */
typedef struct lanspread_discovery_events {
    uint32_t struct_size;
    void *user_data;
    /* A service was resolved to an address (again, if its address or TXT changed).
     * Duplicates of one instance (IPv4/IPv6, several interfaces) are merged by the plugin. */
    void (*on_resolved)(void *user_data, const lanspread_discovered_service *service);
    /* A service instance went away. */
    void (*on_lost)(void *user_data, const char *instance_name);
} lanspread_discovery_events;

/* Implemented by: plugin. Ownership: static in the plugin; valid until its shutdown(). */
typedef struct lanspread_discovery_v1 {
    uint32_t struct_size;

    /* Starts advertising. Returns: OK and *out_advert; E_IO (daemon unreachable: the plugin
     * logs it and keeps retrying in the background, so the advert is still returned). */
    lanspread_status (*advertise)(void *state, const lanspread_service_record *record,
                                  lanspread_discovery_advert **out_advert);

    /* Replaces the advert's TXT record (a library revision changed). */
    lanspread_status (*update_txt)(lanspread_discovery_advert *advert, const char *const *txt);

    /* Withdraws and frees the advert. */
    void (*stop_advert)(lanspread_discovery_advert *advert);

    /* Starts browsing for service_type. Returns: OK and *out_browse. */
    lanspread_status (*browse)(void *state, const char *service_type,
                               const lanspread_discovery_events *events,
                               lanspread_discovery_browse **out_browse);

    /* Stops browsing and frees the handle. */
    void (*stop_browse)(lanspread_discovery_browse *browse);
} lanspread_discovery_v1;

#ifdef __cplusplus
}
#endif

#endif /* LANSPREAD_KINDS_DISCOVERY_H */
