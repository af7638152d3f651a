/* Fake plugin: null_entry — exports lanspread_plugin_v1, but it returns NULL.
 * Expected: LoadFailure::NullEntry. */
#include <lanspread/plugin.h>

LANSPREAD_EXPORT const lanspread_plugin_entry *lanspread_plugin_v1(void) {
    return NULL; /* <- the fault */
}
