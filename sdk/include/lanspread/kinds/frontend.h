/* lanspread plugin SDK — the frontend interface, "lanspread.frontend/1".
 *
 * Pure C (C11 and C++20 clean), no dependencies.
 *
 * A frontend (terminal, web page) talks to the kernel only through the control service,
 * host->get_service(LANSPREAD_CONTROL_SERVICE_ID), with the commands and events of the CLI
 * contract. A frontend that needs a thread of its own (a blocking stdin reader, an HTTP
 * server) may call only [any-thread] services from it and must post() back to the reactor. */
#ifndef LANSPREAD_KINDS_FRONTEND_H
#define LANSPREAD_KINDS_FRONTEND_H

#include <stdint.h>

#include "../host.h"
#include "../services/control.h"
#include "../status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LANSPREAD_FRONTEND_INTERFACE_ID "lanspread.frontend/1"

/* A running frontend; defined privately by the plugin. */
typedef struct lanspread_frontend_session lanspread_frontend_session;

/* Implemented by: plugin. Ownership: static in the plugin; valid until its shutdown(). */
typedef struct lanspread_frontend_v1 {
    uint32_t struct_size;

    /* Starts serving users (reading stdin, listening on a port). Called once the kernel's
     * other plugins are up. Thread: [reactor-thread]. Ownership: *out_session is the
     * plugin's until stop(). Returns: OK; E_IO or E_FAILED after logging why. */
    lanspread_status (*start)(void *state, lanspread_frontend_session **out_session);

    /* Stops serving and frees the session; no control-service call of the session may
     * happen after it returns. Thread: [reactor-thread]. */
    void (*stop)(lanspread_frontend_session *session);
} lanspread_frontend_v1;

#ifdef __cplusplus
}
#endif

#endif /* LANSPREAD_KINDS_FRONTEND_H */
