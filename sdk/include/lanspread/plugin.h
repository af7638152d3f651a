/* lanspread plugin SDK — the plugin entry point and descriptor (plugin -> kernel).
 *
 * Pure C (C11 and C++20 clean), no dependencies. Implemented by: plugin.
 *
 * A plugin is a shared library that exports exactly one symbol, lanspread_plugin_v1, which
 * returns a static lanspread_plugin_entry. The kernel reads the entry and its descriptor
 * without running plugin logic, checks them (docs/ABI.md lists the rules), and only then
 * calls init().
 *
 * Rationale — why init is separate from loading: the descriptor must be readable by tools
 * (lanspread-plugin-check, a plugin listing) that never start the plugin; and a plugin that
 * fails a check must never have run code with side effects. So the library must do no work
 * in static constructors, install no signal handlers and call no setlocale.
 *
 * Rationale — why the kernel never unloads: a plugin's callbacks, timers and thread-locals
 * can outlive a careless shutdown, and a dlclose under them crashes the process. The kernel
 * stops everything of the plugin, calls shutdown(), and keeps the library mapped. */
#ifndef LANSPREAD_PLUGIN_H
#define LANSPREAD_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#include "host.h"
#include "status.h"
#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define LANSPREAD_EXPORT __declspec(dllexport)
#else
#define LANSPREAD_EXPORT __attribute__((visibility("default")))
#endif

/* Plugin kinds. Stored as uint32_t; 0 is never valid. */
#define LANSPREAD_KIND_INVALID   0u
#define LANSPREAD_KIND_TRANSPORT 1u
#define LANSPREAD_KIND_DISCOVERY 2u
#define LANSPREAD_KIND_UNPACKER  3u
#define LANSPREAD_KIND_FRONTEND  4u
#define LANSPREAD_KIND_MAX       4u

/* The name of the exported entry function, for dlsym. */
#define LANSPREAD_ENTRY_SYMBOL "lanspread_plugin_v1"

/* Static facts about a plugin, readable before init(). Implemented by: plugin.
 * Ownership: the descriptor and every string it points to are static in the plugin and
 * valid until the library is unloaded (which the kernel never does at runtime). */
typedef struct lanspread_plugin_descriptor {
    /* sizeof(lanspread_plugin_descriptor) as the plugin compiled it. */
    uint32_t struct_size;
    /* One of LANSPREAD_KIND_*; the kernel asks get_interface for that kind's interface. */
    uint32_t kind;
    /* Reverse-DNS, unique among loaded plugins: "org.lanspread.unpacker.libarchive".
     * Required, non-empty. Config keys of the plugin live under "plugin.<id>.". */
    const char *id;
    /* Human name ("libarchive unpacker"). Required, non-empty. */
    const char *name;
    /* The plugin's own semantic version ("1.2.0"). Required, non-empty. */
    const char *version;
    /* Who made it. Required, non-empty. */
    const char *vendor;
    /* One sentence on what it does. Required, non-empty. */
    const char *description;
    /* NULL-terminated list of capability strings ("archive:rar5", "tls:gnutls"), or NULL. */
    const char *const *capabilities;

    /* ---- added in ABI 1.1 ---- */

    /* NULL-terminated list of the config keys the plugin reads, each "key: what it does
     * (default X)", or NULL. Shown by lanspread-plugin-check and the daemon's --help.
     * @since 1.1 */
    const char *const *config_keys;
} lanspread_plugin_descriptor;

/* The first published descriptor layout (ABI 1.0): everything before config_keys. */
#define LANSPREAD_DESCRIPTOR_SIZE_V1_0 offsetof(lanspread_plugin_descriptor, config_keys)

/* The table lanspread_plugin_v1() returns. Implemented by: plugin.
 * Ownership: static in the plugin; valid until unload. */
typedef struct lanspread_plugin_entry {
    /* sizeof(lanspread_plugin_entry) as the plugin compiled it. */
    uint32_t struct_size;
    /* LANSPREAD_ABI_MAJOR / LANSPREAD_ABI_MINOR at the plugin's build time. */
    uint16_t abi_major;
    uint16_t abi_minor;
    /* The static descriptor. Required. */
    const lanspread_plugin_descriptor *descriptor;

    /* Creates the plugin's state. Keep it fast; start I/O here, not in static constructors.
     * Thread: [reactor-thread]. Ownership: host stays valid until shutdown() returns; the
     * plugin owns *out_state. Required.
     * Returns: OK, or an error status after logging why through host->log — then the kernel
     * rejects the plugin and never calls shutdown(). */
    lanspread_status (*init)(const lanspread_host_api *host, void **out_state);

    /* Stops every watch, timer, thread and handle of the plugin and frees its state. After
     * it returns, nothing of the plugin may call the host or be called back.
     * Thread: [reactor-thread]. Required. */
    void (*shutdown)(void *state);

    /* Returns the interface table with the given versioned id ("lanspread.unpacker/1"), or
     * NULL if the plugin does not implement it. The kernel asks for its kind's interface
     * right after init and rejects a plugin that lacks it.
     * Thread: [reactor-thread]. Ownership: the table is the plugin's; valid until
     * shutdown(). Required. */
    const void *(*get_interface)(void *state, const char *interface_id);
} lanspread_plugin_entry;

/* The first published entry layout (ABI 1.0). Smaller entries are refused. */
#define LANSPREAD_ENTRY_SIZE_V1_0 sizeof(lanspread_plugin_entry)

/* The one exported symbol of a plugin. Thread: any; must be cheap and side-effect free. */
typedef const lanspread_plugin_entry *(*lanspread_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif

#endif /* LANSPREAD_PLUGIN_H */
