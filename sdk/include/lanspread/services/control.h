/* lanspread plugin SDK — the kernel's control service, "lanspread.control/1".
 *
 * Pure C (C11 and C++20 clean), no dependencies. Implemented by: host.
 *
 * The command and event API of a peer, as frontends see it. A command is one JSON object
 * {"id": "...", "cmd": "...", ...} (docs/cli-contract.md); its answer is exactly one result line
 * {"event":"result","id":"...","ok":true|false,...}. Events are JSON lines with "event" and
 * "ts_ms". Keeping the wire vocabulary as JSON text means commands and events can grow
 * without an ABI change. A frontend obtains the table with
 * host->get_service(LANSPREAD_CONTROL_SERVICE_ID). */
#ifndef LANSPREAD_SERVICES_CONTROL_H
#define LANSPREAD_SERVICES_CONTROL_H

#include <stdint.h>

#include "../status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LANSPREAD_CONTROL_SERVICE_ID "lanspread.control/1"

/* The longest command line the service reads, in bytes. A longer one is not parsed: its
 * result is ok:false, code "invalid-command", with a message naming this limit. A frontend
 * reading commands from a stream therefore never needs to hold more than this plus one byte
 * of a line: it submits that much, and the answer says the line is too long. */
#define LANSPREAD_CONTROL_MAX_LINE_BYTES (1024u * 1024u)

/* Receives one JSON line (no trailing newline). Thread: [reactor-thread].
 * Ownership: json_line is borrowed for the call; copy what you keep. */
typedef void (*lanspread_control_line_callback)(void *user_data, const char *json_line);

typedef struct lanspread_control_v1 lanspread_control_v1;

struct lanspread_control_v1 {
    uint32_t struct_size;
    void *control_data; /* opaque to plugins */

    /* Submits one command line. Any text is accepted: a line that is not a valid command
     * still gets its result (ok:false, code "invalid-command"). on_result runs exactly once,
     * later, on the reactor thread, with the result line; commands submitted from one thread
     * are answered in submission order.
     * Thread: [any-thread]. Ownership: command_line is copied before return; user_data must
     * stay valid until on_result has run.
     * Returns: OK; E_FAILED when the kernel is shutting down (on_result will not run). */
    lanspread_status (*submit)(const lanspread_control_v1 *control, const char *command_line,
                               lanspread_control_line_callback on_result, void *user_data);

    /* Subscribes to every event line the kernel publishes from now on.
     * Thread: [reactor-thread]. Ownership: user_data must outlive the subscription.
     * Returns: OK and *out_subscription. */
    lanspread_status (*subscribe)(const lanspread_control_v1 *control,
                                  lanspread_control_line_callback on_event, void *user_data,
                                  uint64_t *out_subscription);

    /* Ends a subscription; on_event is never called for it after this returns.
     * Thread: [reactor-thread]. Returns: OK; E_NOT_FOUND. */
    lanspread_status (*unsubscribe)(const lanspread_control_v1 *control, uint64_t subscription);
};

#ifdef __cplusplus
}
#endif

#endif /* LANSPREAD_SERVICES_CONTROL_H */
