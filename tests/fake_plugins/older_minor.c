/* Fake plugin: older_minor — an ABI 1.0 plugin on the 1.1 kernel. The entry says minor 0 and
 * the descriptor declares the 1.0 size (LANSPREAD_DESCRIPTOR_SIZE_V1_0, i.e. no config_keys).
 * The object in memory is nevertheless the full 1.1 struct, and its config_keys points at a
 * non-NULL "POISON" list: standing in for whatever bytes follow a real 1.0 descriptor. The
 * loader must copy only struct_size bytes, so the loaded image's config_keys reads NULL.
 * Expected: loads (LoadFailure::None). */
#include "fake_plugin_common.h"

static lanspread_status older_init(const lanspread_host_api *host, void **out_state) {
    return fake_init(host, out_state, "older_minor");
}

static const void *older_get_interface(void *state, const char *interface_id) {
    (void)state;
    return fake_unpacker_interface(interface_id);
}

static const char *const older_poison_keys[] = {"POISON", NULL};

static const lanspread_plugin_descriptor older_descriptor = {
    LANSPREAD_DESCRIPTOR_SIZE_V1_0, /* the 1.0 layout: config_keys did not exist */
    LANSPREAD_KIND_UNPACKER,
    "org.lanspread.test.older_minor",
    "Older minor (test fake)",
    "1.0.0",
    "lanspread tests",
    "Built against ABI 1.0.",
    NULL,
    older_poison_keys, /* beyond struct_size: the loader must not read it */
};

static const lanspread_plugin_entry older_entry = {
    sizeof(lanspread_plugin_entry), /* the entry has not grown since 1.0 */
    LANSPREAD_ABI_MAJOR,
    0, /* built against ABI 1.0 */
    &older_descriptor,
    older_init,
    fake_shutdown,
    older_get_interface,
};

LANSPREAD_EXPORT const lanspread_plugin_entry *lanspread_plugin_v1(void) {
    return &older_entry;
}
