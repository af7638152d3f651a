/* Fake plugin: abi_major_2 — otherwise valid, but its entry claims ABI major 2.
 * Expected: LoadFailure::AbiMajorMismatch. */
#include "fake_plugin_common.h"

static lanspread_status major2_init(const lanspread_host_api *host, void **out_state) {
    return fake_init(host, out_state, "abi_major_2");
}

static const void *major2_get_interface(void *state, const char *interface_id) {
    (void)state;
    return fake_unpacker_interface(interface_id);
}

static const lanspread_plugin_descriptor major2_descriptor = {
    sizeof(lanspread_plugin_descriptor),
    LANSPREAD_KIND_UNPACKER,
    "org.lanspread.test.abi_major_2",
    "ABI major 2 (test fake)",
    "1.0.0",
    "lanspread tests",
    "Claims an ABI major the kernel does not speak.",
    NULL,
    NULL,
};

static const lanspread_plugin_entry major2_entry = {
    sizeof(lanspread_plugin_entry),
    2, /* <- the fault: LANSPREAD_ABI_MAJOR is 1 */
    LANSPREAD_ABI_MINOR,
    &major2_descriptor,
    major2_init,
    fake_shutdown,
    major2_get_interface,
};

LANSPREAD_EXPORT const lanspread_plugin_entry *lanspread_plugin_v1(void) {
    return &major2_entry;
}
