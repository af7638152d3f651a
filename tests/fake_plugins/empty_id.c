/* Fake plugin: empty_id — the descriptor's id is "" (present but empty).
 * Expected: LoadFailure::EmptyDescriptorString. */
#include "fake_plugin_common.h"

static lanspread_status emptyid_init(const lanspread_host_api *host, void **out_state) {
    return fake_init(host, out_state, "empty_id");
}

static const void *emptyid_get_interface(void *state, const char *interface_id) {
    (void)state;
    return fake_unpacker_interface(interface_id);
}

static const lanspread_plugin_descriptor emptyid_descriptor = {
    sizeof(lanspread_plugin_descriptor),
    LANSPREAD_KIND_UNPACKER,
    "", /* <- the fault: id is required and non-empty */
    "Empty id (test fake)",
    "1.0.0",
    "lanspread tests",
    "Has an empty id.",
    NULL,
    NULL,
};

static const lanspread_plugin_entry emptyid_entry = {
    sizeof(lanspread_plugin_entry),
    LANSPREAD_ABI_MAJOR,
    LANSPREAD_ABI_MINOR,
    &emptyid_descriptor,
    emptyid_init,
    fake_shutdown,
    emptyid_get_interface,
};

LANSPREAD_EXPORT const lanspread_plugin_entry *lanspread_plugin_v1(void) {
    return &emptyid_entry;
}
