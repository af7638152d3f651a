/* Fake plugin: init_fails — passes every static rule, then init() logs why it fails through
 * host->log and returns LANSPREAD_E_IO. Expected: LoadFailure::InitFailed.
 *
 * The kernel must never call shutdown() (nor anything else) after a failed init, so both
 * abort(): if the loader ever calls them, the test process dies loudly. */
#include "fake_plugin_common.h"

#define INIT_FAILS_REASON "init_fails: cannot open /nonexistent/fake-device (failing on purpose)"

static lanspread_status initfails_init(const lanspread_host_api *host, void **out_state) {
    if (out_state != NULL)
        *out_state = NULL;
    if (host != NULL)
        host->log(host, LANSPREAD_LOG_ERROR, INIT_FAILS_REASON);
    return LANSPREAD_E_IO;
}

static void initfails_shutdown(void *state) {
    (void)state;
    abort(); /* shutdown after a failed init breaks rule 6 */
}

static const void *initfails_get_interface(void *state, const char *interface_id) {
    (void)state;
    (void)interface_id;
    abort(); /* there is no plugin to ask after a failed init */
}

static const lanspread_plugin_descriptor initfails_descriptor = {
    sizeof(lanspread_plugin_descriptor),
    LANSPREAD_KIND_UNPACKER,
    "org.lanspread.test.init_fails",
    "Init fails (test fake)",
    "1.0.0",
    "lanspread tests",
    "Logs a reason and fails init with E_IO.",
    NULL,
    NULL,
};

static const lanspread_plugin_entry initfails_entry = {
    sizeof(lanspread_plugin_entry), LANSPREAD_ABI_MAJOR, LANSPREAD_ABI_MINOR,
    &initfails_descriptor,          initfails_init,      initfails_shutdown,
    initfails_get_interface,
};

LANSPREAD_EXPORT const lanspread_plugin_entry *lanspread_plugin_v1(void) {
    return &initfails_entry;
}
