/* Fake plugin: good_unpacker — the positive control. A minimal plugin that follows every
 * rule: unpacker kind, all entry members, every descriptor string set, the unpacker vtable
 * complete (probe scores 0). Expected: loads (LoadFailure::None). */
#include "fake_plugin_common.h"

static lanspread_status good_init(const lanspread_host_api *host, void **out_state) {
    return fake_init(host, out_state, "good_unpacker");
}

static const void *good_get_interface(void *state, const char *interface_id) {
    (void)state;
    return fake_unpacker_interface(interface_id);
}

static const char *const good_capabilities[] = {"archive:none", NULL};
static const char *const good_config_keys[] = {
    "greeting: read back by kernel_test through config_get (default empty)", NULL};

static const lanspread_plugin_descriptor good_descriptor = {
    sizeof(lanspread_plugin_descriptor),
    LANSPREAD_KIND_UNPACKER,
    "org.lanspread.test.good_unpacker",
    "Good unpacker (test fake)",
    "1.0.0",
    "lanspread tests",
    "Follows every loader rule and recognises no archive.",
    good_capabilities,
    good_config_keys,
};

static const lanspread_plugin_entry good_entry = {
    sizeof(lanspread_plugin_entry),
    LANSPREAD_ABI_MAJOR,
    LANSPREAD_ABI_MINOR,
    &good_descriptor,
    good_init,
    fake_shutdown,
    good_get_interface,
};

LANSPREAD_EXPORT const lanspread_plugin_entry *lanspread_plugin_v1(void) {
    return &good_entry;
}
