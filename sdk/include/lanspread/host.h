/* lanspread plugin SDK — the host services table (kernel -> plugin).
 *
 * Pure C (C11 and C++20 clean), no dependencies. Implemented by: host.
 *
 * The kernel builds one lanspread_host_api per loaded plugin and passes it to the plugin's
 * init(). host_data identifies the calling plugin, so every log line is prefixed with the
 * plugin id and config_get() reads the plugin's own namespace. The table is valid from
 * init() until shutdown() returns.
 *
 * Threads: the kernel runs one reactor thread. Unless a member says [any-thread], call it
 * only on the reactor thread — that is the thread every plugin hook is called on, except
 * where a kind interface says [worker-thread].
 *
 * Ownership: every pointer passed into a host function is borrowed for the duration of the
 * call; the host copies what it keeps. The host never hands the plugin memory to free. */
#ifndef LANSPREAD_HOST_H
#define LANSPREAD_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Log levels, lowest to highest. */
#define LANSPREAD_LOG_DEBUG   0
#define LANSPREAD_LOG_INFO    1
#define LANSPREAD_LOG_WARNING 2
#define LANSPREAD_LOG_ERROR   3

/* Readiness bits for watch_fd/modify_fd and the fd callback's revents. Level-triggered. */
#define LANSPREAD_FD_READ   0x1u
#define LANSPREAD_FD_WRITE  0x2u
#define LANSPREAD_FD_ERROR  0x4u /* only ever reported, never requested */
#define LANSPREAD_FD_HANGUP 0x8u /* only ever reported, never requested */

/* An operation's cancel token. 0 is the token that is never cancelled. Created by the host. */
typedef uint64_t lanspread_cancel_handle;
#define LANSPREAD_CANCEL_NONE ((lanspread_cancel_handle)0)

/* Called when a watched fd is ready. Thread: [reactor-thread]. The callback may unwatch this
 * or any other fd, and start or stop timers. */
typedef void (*lanspread_fd_callback)(void *user_data, int fd, uint32_t revents);

/* Called once when a one-shot timer expires. Thread: [reactor-thread]. The timer id is
 * already dead when this runs: stop_timer on it returns E_NOT_FOUND. */
typedef void (*lanspread_timer_callback)(void *user_data, uint64_t timer_id);

/* A task posted with post(). Thread: [reactor-thread]. Runs exactly once, unless the kernel
 * is shutting down, in which case pending tasks are dropped after the plugin's shutdown():
 * from the moment shutdown() is called, no task of the plugin runs, so a plugin frees what
 * its still-pending tasks own once shutdown() is done with everything else (the C++
 * wrapper, lanspread::Host::post, does this itself). */
typedef void (*lanspread_task_callback)(void *user_data);

typedef struct lanspread_host_api lanspread_host_api;

struct lanspread_host_api {
    /* sizeof(lanspread_host_api) as the host compiled it. A plugin built against an older
     * SDK reads only the members that fit in its own struct. */
    uint32_t struct_size;
    /* The host's ABI version. Members appended after the plugin's minor are absent
     * (check struct_size with LANSPREAD_HAS_MEMBER before calling them). */
    uint16_t abi_major;
    uint16_t abi_minor;
    /* Opaque to plugins: the host's per-plugin context. Never read or write it. */
    void *host_data;

    /* Writes one log line, prefixed by the host with the plugin id.
     * Thread: [any-thread]. Ownership: utf8_message is copied before return. */
    void (*log)(const lanspread_host_api *host, int32_t level, const char *utf8_message);

    /* Publishes a control-plane event on the kernel's event bus. topic is a short name such
     * as "discovery.peer_found"; json_payload is a UTF-8 JSON object.
     * Thread: [any-thread]. Ownership: both strings are copied before return.
     * Returns: OK; E_INVALID_ARGUMENT when the payload is not a JSON object. */
    lanspread_status (*emit_event)(const lanspread_host_api *host, const char *topic,
                                   const char *json_payload);

    /* Reads the plugin's config key (the kernel looks up "plugin.<plugin id>.<key>").
     * snprintf style: writes the NUL-terminated value into buffer if it fits and always sets
     * *out_required to strlen(value)+1. buffer may be NULL when buffer_size is 0.
     * Thread: [reactor-thread]. Ownership: the caller owns buffer.
     * Returns: OK; E_NOT_FOUND (key unset); E_BUFFER_TOO_SMALL (call again, bigger). */
    lanspread_status (*config_get)(const lanspread_host_api *host, const char *key, char *buffer,
                                   size_t buffer_size, size_t *out_required);

    /* Starts watching fd for the LANSPREAD_FD_READ/WRITE bits in events (level-triggered).
     * Thread: [reactor-thread]. Ownership: the plugin keeps owning fd and must unwatch it
     * before closing it; user_data is the plugin's and must outlive the watch.
     * Returns: OK and *out_watch_id; E_INVALID_ARGUMENT; E_IO (fd cannot be polled, e.g. a
     * regular file). */
    lanspread_status (*watch_fd)(const lanspread_host_api *host, int fd, uint32_t events,
                                 lanspread_fd_callback callback, void *user_data,
                                 uint64_t *out_watch_id);

    /* Changes the bits a watch waits for. Thread: [reactor-thread].
     * Returns: OK; E_NOT_FOUND (unknown or already removed watch). */
    lanspread_status (*modify_fd)(const lanspread_host_api *host, uint64_t watch_id,
                                  uint32_t events);

    /* Stops a watch; its callback is never called after this returns.
     * Thread: [reactor-thread]. Returns: OK; E_NOT_FOUND. */
    lanspread_status (*unwatch_fd)(const lanspread_host_api *host, uint64_t watch_id);

    /* Starts a one-shot timer that fires delay_ns after now_ns() (0 = on the next loop turn).
     * Thread: [reactor-thread]. Ownership: user_data must outlive the timer.
     * Returns: OK and *out_timer_id. */
    lanspread_status (*start_timer)(const lanspread_host_api *host, uint64_t delay_ns,
                                    lanspread_timer_callback callback, void *user_data,
                                    uint64_t *out_timer_id);

    /* Cancels a pending timer; its callback is never called after this returns.
     * Thread: [reactor-thread]. Returns: OK; E_NOT_FOUND (fired or unknown). */
    lanspread_status (*stop_timer)(const lanspread_host_api *host, uint64_t timer_id);

    /* The host's monotonic clock in nanoseconds (a manual clock in tests).
     * Thread: [any-thread]. */
    uint64_t (*now_ns)(const lanspread_host_api *host);

    /* Queues callback(user_data) to run on the reactor thread; the way a plugin-owned thread
     * hands work back. Tasks posted from one thread run in the order they were posted.
     * Thread: [any-thread]. Ownership: user_data must stay valid until the task has run, or
     * until shutdown() for a task still pending then (it is dropped, never called).
     * Returns: OK; E_FAILED when the kernel is shutting down (the task will never run). */
    lanspread_status (*post)(const lanspread_host_api *host, lanspread_task_callback callback,
                             void *user_data);

    /* Whether an operation's cancel token has fired. Long calls poll it.
     * Thread: [any-thread]. Returns: 1 cancelled, 0 not (always 0 for LANSPREAD_CANCEL_NONE
     * and for unknown tokens). */
    int32_t (*is_cancelled)(const lanspread_host_api *host, lanspread_cancel_handle token);

    /* Looks up an optional host service by versioned id, e.g. LANSPREAD_CONTROL_SERVICE_ID.
     * This is how host capabilities grow without an ABI minor bump.
     * Thread: [reactor-thread]. Ownership: the returned table belongs to the host and stays
     * valid until the plugin's shutdown() returns. Returns: the table, or NULL. */
    const void *(*get_service)(const lanspread_host_api *host, const char *service_id);
};

/* Whether a struct that starts with uint32_t struct_size is large enough to contain member
 * m, i.e. whether its producer knew about m. Use it before touching appended members. */
#define LANSPREAD_HAS_MEMBER(type, ptr, m)                                                         \
    ((ptr) != NULL && (ptr)->struct_size >= offsetof(type, m) + sizeof(((type *)0)->m))

#ifdef __cplusplus
}
#endif

#endif /* LANSPREAD_HOST_H */
