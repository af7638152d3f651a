/* lanspread plugin SDK — graded status codes.
 *
 * Pure C (C11 and C++20 clean), no dependencies. Every function of the ABI that can fail
 * returns an int32_t status. The grading follows libarchive: OK and END are successes,
 * E_AGAIN asks the caller to retry later, E_FAILED means "this call failed but the handle is
 * still usable", E_FATAL means "the handle is dead; the only valid next call is its
 * close/destroy". Human-readable detail never travels in a returned string: it goes through
 * host->log, which copies it. */
#ifndef LANSPREAD_STATUS_H
#define LANSPREAD_STATUS_H

#include <stdint.h>

typedef int32_t lanspread_status;

#define LANSPREAD_OK  0 /* success */
#define LANSPREAD_END 1 /* success, and there is nothing more (end of entries, end of data) */

#define LANSPREAD_E_AGAIN            (-1) /* not now: retry after the next readiness signal */
#define LANSPREAD_E_CANCELLED        (-2) /* the operation's cancel token fired */
#define LANSPREAD_E_INVALID_ARGUMENT (-3) /* a parameter was NULL, out of range or malformed */
#define LANSPREAD_E_UNSUPPORTED      (-4) /* the request is valid but this plugin cannot do it */
#define LANSPREAD_E_NOT_FOUND        (-5) /* the named key, service, stream or handle is unknown */
#define LANSPREAD_E_IO               (-6) /* an operating-system I/O call failed */
#define LANSPREAD_E_NO_MEMORY        (-7) /* an allocation failed */
/* The caller's buffer is too small; *out_required says how big it must be. */
#define LANSPREAD_E_BUFFER_TOO_SMALL (-8)
#define LANSPREAD_E_FAILED           (-20) /* this call failed; the handle remains usable */
#define LANSPREAD_E_FATAL            (-30) /* the handle is dead: only close/destroy is valid */

/* A short, static, English name for a status ("OK", "E_IO", ...); never NULL.
 * Thread: any. Ownership: the returned string is static; do not free it. */
static inline const char *lanspread_status_name(lanspread_status status) {
    switch (status) {
    case LANSPREAD_OK: return "OK";
    case LANSPREAD_END: return "END";
    case LANSPREAD_E_AGAIN: return "E_AGAIN";
    case LANSPREAD_E_CANCELLED: return "E_CANCELLED";
    case LANSPREAD_E_INVALID_ARGUMENT: return "E_INVALID_ARGUMENT";
    case LANSPREAD_E_UNSUPPORTED: return "E_UNSUPPORTED";
    case LANSPREAD_E_NOT_FOUND: return "E_NOT_FOUND";
    case LANSPREAD_E_IO: return "E_IO";
    case LANSPREAD_E_NO_MEMORY: return "E_NO_MEMORY";
    case LANSPREAD_E_BUFFER_TOO_SMALL: return "E_BUFFER_TOO_SMALL";
    case LANSPREAD_E_FAILED: return "E_FAILED";
    case LANSPREAD_E_FATAL: return "E_FATAL";
    default: return "E_UNKNOWN";
    }
}

/* Non-zero for OK and END. Thread: any. */
static inline int lanspread_succeeded(lanspread_status status) {
    return status == LANSPREAD_OK || status == LANSPREAD_END;
}

#endif /* LANSPREAD_STATUS_H */
