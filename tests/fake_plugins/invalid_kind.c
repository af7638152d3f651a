/* Fake plugin: invalid_kind — the descriptor's kind is LANSPREAD_KIND_INVALID (0).
 * Expected: LoadFailure::InvalidKind. */
#include "fake_plugin_common.h"

static lanspread_status badkind_init(const lanspread_host_api *host, void **out_state) {
    return fake_init(host, out_state, "invalid_kind");
}

static const void *badkind_get_interface(void *state, const char *interface_id) {
    (void)state;
    return fake_unpacker_interface(interface_id);
}

static const lanspread_plugin_descriptor badkind_descriptor = {
    sizeof(lanspread_plugin_descriptor),
    LANSPREAD_KIND_INVALID, /* <- the fault: 0 is never a valid kind */
    "org.lanspread.test.invalid_kind",
    "Invalid kind (test fake)",
    "1.0.0",
    "lanspread tests",
    "Declares kind 0.",
    NULL,
    NULL,
};

static const lanspread_plugin_entry badkind_entry = {
    sizeof(lanspread_plugin_entry),
    LANSPREAD_ABI_MAJOR,
    LANSPREAD_ABI_MINOR,
    &badkind_descriptor,
    badkind_init,
    fake_shutdown,
    badkind_get_interface,
};

LANSPREAD_EXPORT const lanspread_plugin_entry *lanspread_plugin_v1(void) {
    return &badkind_entry;
}
