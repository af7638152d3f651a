/* Fake plugin: no_entry_symbol — a shared library that is not a lanspread plugin: it exports
 * a function, but not lanspread_plugin_v1 (built without lanspread_add_plugin, whose version
 * script would hide everything else). Expected: LoadFailure::MissingEntrySymbol. */
#include <lanspread/plugin.h>

/* A near miss: the unversioned name a careless author might pick. */
LANSPREAD_EXPORT int lanspread_plugin(void);

LANSPREAD_EXPORT int lanspread_plugin(void) {
    return 42;
}
