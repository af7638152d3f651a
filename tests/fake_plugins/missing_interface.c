/* Fake plugin: missing_interface — declares the unpacker kind, initialises fine, but
 * get_interface() returns NULL for every id. Expected: LoadFailure::MissingInterface, and
 * because init succeeded, shutdown() is called exactly once (it logs
 * "missing_interface: shutdown"). */
#include "fake_plugin_common.h"

static lanspread_status nointerface_init(const lanspread_host_api *host, void **out_state) {
    return fake_init(host, out_state, "missing_interface");
}

static const void *nointerface_get_interface(void *state, const char *interface_id) {
    (void)state;
    (void)interface_id;
    return NULL; /* <- the fault: no "lanspread.unpacker/1" */
}

static const lanspread_plugin_descriptor nointerface_descriptor = {
    sizeof(lanspread_plugin_descriptor),
    LANSPREAD_KIND_UNPACKER,
    "org.lanspread.test.missing_interface",
    "Missing interface (test fake)",
    "1.0.0",
    "lanspread tests",
    "Claims to be an unpacker but offers no unpacker interface.",
    NULL,
    NULL,
};

static const lanspread_plugin_entry nointerface_entry = {
    sizeof(lanspread_plugin_entry), LANSPREAD_ABI_MAJOR, LANSPREAD_ABI_MINOR,
    &nointerface_descriptor,        nointerface_init,    fake_shutdown,
    nointerface_get_interface,
};

LANSPREAD_EXPORT const lanspread_plugin_entry *lanspread_plugin_v1(void) {
    return &nointerface_entry;
}
