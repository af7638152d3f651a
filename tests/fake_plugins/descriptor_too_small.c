/* Fake plugin: descriptor_too_small — the descriptor declares a struct_size that ends before
 * capabilities, i.e. smaller than the first published layout (LANSPREAD_DESCRIPTOR_SIZE_V1_0).
 * Expected: LoadFailure::DescriptorInvalid. */
#include "fake_plugin_common.h"

static lanspread_status smalldesc_init(const lanspread_host_api *host, void **out_state) {
    return fake_init(host, out_state, "descriptor_too_small");
}

static const void *smalldesc_get_interface(void *state, const char *interface_id) {
    (void)state;
    return fake_unpacker_interface(interface_id);
}

static const lanspread_plugin_descriptor smalldesc_descriptor = {
    offsetof(lanspread_plugin_descriptor, capabilities), /* <- the fault */
    LANSPREAD_KIND_UNPACKER,
    "org.lanspread.test.descriptor_too_small",
    "Descriptor too small (test fake)",
    "1.0.0",
    "lanspread tests",
    "Declares a descriptor smaller than the ABI 1.0 layout.",
    NULL,
    NULL,
};

static const lanspread_plugin_entry smalldesc_entry = {
    sizeof(lanspread_plugin_entry), LANSPREAD_ABI_MAJOR, LANSPREAD_ABI_MINOR,
    &smalldesc_descriptor,          smalldesc_init,      fake_shutdown,
    smalldesc_get_interface,
};

LANSPREAD_EXPORT const lanspread_plugin_entry *lanspread_plugin_v1(void) {
    return &smalldesc_entry;
}
