/* Fake plugin: abi_minor_newer — otherwise valid, but built "against a newer SDK": its entry
 * claims minor LANSPREAD_ABI_MINOR + 1. Expected: LoadFailure::AbiMinorNewer. */
#include "fake_plugin_common.h"

static lanspread_status newer_init(const lanspread_host_api *host, void **out_state) {
    return fake_init(host, out_state, "abi_minor_newer");
}

static const void *newer_get_interface(void *state, const char *interface_id) {
    (void)state;
    return fake_unpacker_interface(interface_id);
}

static const lanspread_plugin_descriptor newer_descriptor = {
    sizeof(lanspread_plugin_descriptor),
    LANSPREAD_KIND_UNPACKER,
    "org.lanspread.test.abi_minor_newer",
    "ABI minor newer (test fake)",
    "1.0.0",
    "lanspread tests",
    "Claims an ABI minor newer than the kernel's.",
    NULL,
    NULL,
};

static const lanspread_plugin_entry newer_entry = {
    sizeof(lanspread_plugin_entry),
    LANSPREAD_ABI_MAJOR,
    LANSPREAD_ABI_MINOR + 1, /* <- the fault */
    &newer_descriptor,
    newer_init,
    fake_shutdown,
    newer_get_interface,
};

LANSPREAD_EXPORT const lanspread_plugin_entry *lanspread_plugin_v1(void) {
    return &newer_entry;
}
