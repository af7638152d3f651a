/* Shared by the fake plugins of the loader tests: a minimal, valid unpacker implementation.
 *
 * Every fake_<rule>.c spells out its own entry and descriptor, so the one thing each fake gets
 * wrong is visible in its own file; the boring, correct parts (state, a do-nothing unpacker
 * vtable) live here. Everything is static inline so unused helpers cost no warning. */
#ifndef LANSPREAD_FAKE_PLUGIN_COMMON_H
#define LANSPREAD_FAKE_PLUGIN_COMMON_H

#include <lanspread/kinds/unpacker.h>
#include <lanspread/plugin.h>

#include <stdlib.h>
#include <string.h>

/* What init() hands back: the host, so shutdown() can report that it ran. */
typedef struct fake_state {
    const lanspread_host_api *host;
    const char *name; /* the fake's file name, prefixed to its log lines */
} fake_state;

static inline lanspread_status fake_init(const lanspread_host_api *host, void **out_state,
                                         const char *name) {
    if (host == NULL || out_state == NULL)
        return LANSPREAD_E_INVALID_ARGUMENT;
    fake_state *state = (fake_state *)calloc(1, sizeof *state);
    if (state == NULL)
        return LANSPREAD_E_NO_MEMORY;
    state->host = host;
    state->name = name;
    *out_state = state;
    return LANSPREAD_OK;
}

/* Logs "<name>: shutdown" (the tests count these lines) and frees the state. */
static inline void fake_shutdown(void *state_ptr) {
    fake_state *state = (fake_state *)state_ptr;
    if (state == NULL)
        return;
    char line[128];
    size_t n = strlen(state->name);
    if (n > sizeof line - sizeof ": shutdown")
        n = sizeof line - sizeof ": shutdown";
    memcpy(line, state->name, n);
    memcpy(line + n, ": shutdown", sizeof ": shutdown");
    state->host->log(state->host, LANSPREAD_LOG_INFO, line);
    free(state);
}

/* ---- a do-nothing unpacker: recognises no archive ---- */

static inline lanspread_status fake_probe(void *state, const uint8_t *head, size_t head_len,
                                          const char *name_hint, uint32_t *out_score) {
    (void)state;
    (void)name_hint;
    if (out_score == NULL || (head == NULL && head_len > 0))
        return LANSPREAD_E_INVALID_ARGUMENT;
    *out_score = 0;
    return LANSPREAD_OK;
}

static inline lanspread_status fake_open(void *state, const lanspread_byte_source *source,
                                         lanspread_cancel_handle cancel,
                                         lanspread_unpack_job **out_job) {
    (void)state;
    (void)source;
    (void)cancel;
    if (out_job == NULL)
        return LANSPREAD_E_INVALID_ARGUMENT;
    *out_job = NULL;
    return LANSPREAD_E_UNSUPPORTED;
}

static inline lanspread_status fake_next_entry(lanspread_unpack_job *job,
                                               lanspread_archive_entry *out_entry) {
    (void)job;
    (void)out_entry;
    return LANSPREAD_END;
}

static inline lanspread_status fake_read_data(lanspread_unpack_job *job, uint8_t *buffer,
                                              size_t capacity, size_t *out_read) {
    (void)job;
    (void)buffer;
    (void)capacity;
    if (out_read == NULL)
        return LANSPREAD_E_INVALID_ARGUMENT;
    *out_read = 0;
    return LANSPREAD_END;
}

static inline void fake_close(lanspread_unpack_job *job) {
    (void)job;
}

/* The "lanspread.unpacker/1" table for interface_id, or NULL for any other id. */
static inline const void *fake_unpacker_interface(const char *interface_id) {
    static const lanspread_unpacker_v1 vtable = {sizeof(lanspread_unpacker_v1),
                                                 fake_probe,
                                                 fake_open,
                                                 fake_next_entry,
                                                 fake_read_data,
                                                 fake_close};
    if (interface_id == NULL || strcmp(interface_id, LANSPREAD_UNPACKER_INTERFACE_ID) != 0)
        return NULL;
    return &vtable;
}

#endif /* LANSPREAD_FAKE_PLUGIN_COMMON_H */
