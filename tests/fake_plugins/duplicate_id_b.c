/* Fake plugin: duplicate_id_b — a valid plugin whose id, "org.lanspread.test.duplicate", is
 * shared with duplicate_id_a. Alone it loads; loaded after duplicate_id_a in the same loader,
 * duplicate_id_b is refused. Expected: a loads, then b → LoadFailure::DuplicateId. */
#include "fake_plugin_common.h"

static lanspread_status dup_init(const lanspread_host_api *host, void **out_state) {
    return fake_init(host, out_state, "duplicate_id_b");
}

static const void *dup_get_interface(void *state, const char *interface_id) {
    (void)state;
    return fake_unpacker_interface(interface_id);
}

static const lanspread_plugin_descriptor dup_descriptor = {
    sizeof(lanspread_plugin_descriptor),
    LANSPREAD_KIND_UNPACKER,
    "org.lanspread.test.duplicate", /* <- the same id in duplicate_id_a.c and duplicate_id_b.c */
    "Duplicate id, copy b (test fake)",
    "1.0.0",
    "lanspread tests",
    "Shares its id with another fake.",
    NULL,
    NULL,
};

static const lanspread_plugin_entry dup_entry = {
    sizeof(lanspread_plugin_entry),
    LANSPREAD_ABI_MAJOR,
    LANSPREAD_ABI_MINOR,
    &dup_descriptor,
    dup_init,
    fake_shutdown,
    dup_get_interface,
};

LANSPREAD_EXPORT const lanspread_plugin_entry *lanspread_plugin_v1(void) {
    return &dup_entry;
}
