/* Fake plugin: unresolved_symbol — a plugin that calls a function no library defines, as a
 * plugin built without lanspread_add_plugin's -z defs can (it is a plain module for that
 * reason). Everything else is valid, and the call sits on a path that never runs, so only
 * the dynamic linker can notice. plugin_loader.hpp promises dlopen with RTLD_NOW: the file
 * must be refused up front, not when the call is first made — with lazy binding that first
 * call ends the whole process ("symbol lookup error").
 * Expected: LoadFailure::FileNotLoadable. */
#include "fake_plugin_common.h"

/* Defined nowhere. */
extern void lanspread_fake_no_such_function(void);

static lanspread_status unresolved_init(const lanspread_host_api *host, void **out_state) {
    if (host != NULL && host->abi_major == 0) /* never true: keeps a real call in the code */
        lanspread_fake_no_such_function();
    return fake_init(host, out_state, "unresolved_symbol");
}

static const void *unresolved_get_interface(void *state, const char *interface_id) {
    (void)state;
    return fake_unpacker_interface(interface_id);
}

static const lanspread_plugin_descriptor unresolved_descriptor = {
    sizeof(lanspread_plugin_descriptor),
    LANSPREAD_KIND_UNPACKER,
    "org.lanspread.test.unresolved_symbol",
    "Unresolved symbol (test fake)",
    "1.0.0",
    "lanspread tests",
    "Calls a function that no library defines.",
    NULL,
    NULL,
};

static const lanspread_plugin_entry unresolved_entry = {
    sizeof(lanspread_plugin_entry), LANSPREAD_ABI_MAJOR, LANSPREAD_ABI_MINOR,
    &unresolved_descriptor,         unresolved_init,     fake_shutdown,
    unresolved_get_interface,
};

LANSPREAD_EXPORT const lanspread_plugin_entry *lanspread_plugin_v1(void) {
    return &unresolved_entry;
}
