/* Fake plugin: entry_too_small — the entry declares a struct_size that ends before
 * get_interface, i.e. smaller than the first published layout (LANSPREAD_ENTRY_SIZE_V1_0).
 * The object in memory is complete; only the declared size is wrong.
 * Expected: LoadFailure::EntryTooSmall. */
#include "fake_plugin_common.h"

static lanspread_status small_init(const lanspread_host_api *host, void **out_state) {
    return fake_init(host, out_state, "entry_too_small");
}

static const void *small_get_interface(void *state, const char *interface_id) {
    (void)state;
    return fake_unpacker_interface(interface_id);
}

static const lanspread_plugin_descriptor small_descriptor = {
    sizeof(lanspread_plugin_descriptor),
    LANSPREAD_KIND_UNPACKER,
    "org.lanspread.test.entry_too_small",
    "Entry too small (test fake)",
    "1.0.0",
    "lanspread tests",
    "Declares an entry smaller than the ABI 1.0 layout.",
    NULL,
    NULL,
};

static const lanspread_plugin_entry small_entry = {
    offsetof(lanspread_plugin_entry, get_interface), /* <- the fault */
    LANSPREAD_ABI_MAJOR,
    LANSPREAD_ABI_MINOR,
    &small_descriptor,
    small_init,
    fake_shutdown,
    small_get_interface,
};

LANSPREAD_EXPORT const lanspread_plugin_entry *lanspread_plugin_v1(void) {
    return &small_entry;
}
