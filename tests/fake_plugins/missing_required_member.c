/* Fake plugin: missing_required_member — a required entry member (shutdown) is NULL.
 * Expected: LoadFailure::MissingRequiredMember. */
#include "fake_plugin_common.h"

static lanspread_status nomember_init(const lanspread_host_api *host, void **out_state) {
    return fake_init(host, out_state, "missing_required_member");
}

static const void *nomember_get_interface(void *state, const char *interface_id) {
    (void)state;
    return fake_unpacker_interface(interface_id);
}

static const lanspread_plugin_descriptor nomember_descriptor = {
    sizeof(lanspread_plugin_descriptor),
    LANSPREAD_KIND_UNPACKER,
    "org.lanspread.test.missing_required_member",
    "Missing required member (test fake)",
    "1.0.0",
    "lanspread tests",
    "Leaves the required shutdown member NULL.",
    NULL,
    NULL,
};

static const lanspread_plugin_entry nomember_entry = {
    sizeof(lanspread_plugin_entry),
    LANSPREAD_ABI_MAJOR,
    LANSPREAD_ABI_MINOR,
    &nomember_descriptor,
    nomember_init,
    NULL, /* <- the fault: shutdown is required */
    nomember_get_interface,
};

LANSPREAD_EXPORT const lanspread_plugin_entry *lanspread_plugin_v1(void) {
    return &nomember_entry;
}
