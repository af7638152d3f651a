/* Every C header of the SDK must compile as strict C11: this file is built with
 * -std=c11 -Wall -Wextra -pedantic -Werror. It includes each header twice (include guards)
 * and touches one symbol of each, so a header that only works in C++ or with GNU extensions
 * fails the build. */
#include <lanspread/host.h>
#include <lanspread/kinds/discovery.h>
#include <lanspread/kinds/frontend.h>
#include <lanspread/kinds/transport.h>
#include <lanspread/kinds/unpacker.h>
#include <lanspread/plugin.h>
#include <lanspread/services/control.h>
#include <lanspread/status.h>
#include <lanspread/version.h>

#include <lanspread/host.h>
#include <lanspread/kinds/discovery.h>
#include <lanspread/kinds/frontend.h>
#include <lanspread/kinds/transport.h>
#include <lanspread/kinds/unpacker.h>
#include <lanspread/plugin.h>
#include <lanspread/services/control.h>
#include <lanspread/status.h>
#include <lanspread/version.h>

#include <string.h>

int main(void) {
    lanspread_host_api host;
    lanspread_plugin_descriptor descriptor;
    lanspread_plugin_entry entry;
    lanspread_unpacker_v1 unpacker;
    lanspread_frontend_v1 frontend;
    lanspread_transport_v1 transport;
    lanspread_discovery_v1 discovery;
    lanspread_control_v1 control;
    memset(&host, 0, sizeof host);
    memset(&descriptor, 0, sizeof descriptor);
    memset(&entry, 0, sizeof entry);
    memset(&unpacker, 0, sizeof unpacker);
    memset(&frontend, 0, sizeof frontend);
    memset(&transport, 0, sizeof transport);
    memset(&discovery, 0, sizeof discovery);
    memset(&control, 0, sizeof control);
    descriptor.struct_size = (uint32_t)sizeof descriptor;
    if (!LANSPREAD_HAS_MEMBER(lanspread_plugin_descriptor, &descriptor, config_keys))
        return 1;
    if (LANSPREAD_HAS_MEMBER(lanspread_host_api, &host, get_service))
        return 1; /* struct_size 0 covers nothing */
    if (!lanspread_succeeded(LANSPREAD_END) || lanspread_succeeded(LANSPREAD_E_FATAL))
        return 1;
    if (strcmp(lanspread_status_name(LANSPREAD_E_IO), "E_IO") != 0)
        return 1;
    (void)entry;
    (void)unpacker;
    (void)frontend;
    (void)transport;
    (void)discovery;
    (void)control;
    return strcmp(LANSPREAD_ENTRY_SYMBOL, "lanspread_plugin_v1") == 0 ? 0 : 1;
}
