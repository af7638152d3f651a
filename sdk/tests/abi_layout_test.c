/* Locks the published ABI layout: sizeof and offsetof of every member of every struct that
 * crosses the plugin boundary, plus the numeric values of the ABI constants.
 *
 * If this file stops compiling, a published layout changed. That is only allowed by appending
 * members (and bumping LANSPREAD_ABI_MINOR, see docs/ABI.md): add assertions for the new
 * members and the new sizeof here; never edit an existing offset.
 *
 * The numbers are those of the LP64 ABIs we ship (x86_64 and aarch64, both little-endian
 * LP64 with 8-byte pointers and size_t). Compiled as C11. */
#include <lanspread/host.h>
#include <lanspread/kinds/discovery.h>
#include <lanspread/kinds/frontend.h>
#include <lanspread/kinds/transport.h>
#include <lanspread/kinds/unpacker.h>
#include <lanspread/plugin.h>
#include <lanspread/services/control.h>
#include <lanspread/status.h>
#include <lanspread/version.h>

#include <stddef.h>

#define SIZE(type, n) _Static_assert(sizeof(type) == (n), "sizeof(" #type ") changed")
#define OFF(type, m, n)                                                                            \
    _Static_assert(offsetof(type, m) == (n), "offsetof(" #type ", " #m ") changed")
#define MSIZE(type, m, n)                                                                          \
    _Static_assert(sizeof(((type *)0)->m) == (n), "sizeof(" #type "." #m ") changed")
#define VALUE(macro, n) _Static_assert((macro) == (n), #macro " changed")

#if defined(__x86_64__) || defined(__aarch64__)

/* ---- scalar types used by the ABI ---- */
SIZE(lanspread_status, 4);
SIZE(lanspread_cancel_handle, 8);
SIZE(void *, 8);
SIZE(size_t, 8);

/* ---- version.h / status.h / host.h / plugin.h constants ---- */
VALUE(LANSPREAD_ABI_MAJOR, 1);
VALUE(LANSPREAD_ABI_MINOR, 1);
VALUE(LANSPREAD_OK, 0);
VALUE(LANSPREAD_END, 1);
VALUE(LANSPREAD_E_AGAIN, -1);
VALUE(LANSPREAD_E_CANCELLED, -2);
VALUE(LANSPREAD_E_INVALID_ARGUMENT, -3);
VALUE(LANSPREAD_E_UNSUPPORTED, -4);
VALUE(LANSPREAD_E_NOT_FOUND, -5);
VALUE(LANSPREAD_E_IO, -6);
VALUE(LANSPREAD_E_NO_MEMORY, -7);
VALUE(LANSPREAD_E_BUFFER_TOO_SMALL, -8);
VALUE(LANSPREAD_E_FAILED, -20);
VALUE(LANSPREAD_E_FATAL, -30);
VALUE(LANSPREAD_LOG_DEBUG, 0);
VALUE(LANSPREAD_LOG_INFO, 1);
VALUE(LANSPREAD_LOG_WARNING, 2);
VALUE(LANSPREAD_LOG_ERROR, 3);
VALUE(LANSPREAD_FD_READ, 0x1u);
VALUE(LANSPREAD_FD_WRITE, 0x2u);
VALUE(LANSPREAD_FD_ERROR, 0x4u);
VALUE(LANSPREAD_FD_HANGUP, 0x8u);
VALUE(LANSPREAD_CANCEL_NONE, 0);
VALUE(LANSPREAD_KIND_INVALID, 0u);
VALUE(LANSPREAD_KIND_TRANSPORT, 1u);
VALUE(LANSPREAD_KIND_DISCOVERY, 2u);
VALUE(LANSPREAD_KIND_UNPACKER, 3u);
VALUE(LANSPREAD_KIND_FRONTEND, 4u);
VALUE(LANSPREAD_ENTRY_FILE, 1u);
VALUE(LANSPREAD_ENTRY_DIRECTORY, 2u);
VALUE(LANSPREAD_ENTRY_SYMLINK, 3u);
VALUE(LANSPREAD_ENTRY_HARDLINK, 4u);
VALUE(LANSPREAD_ENTRY_OTHER, 5u);
VALUE(LANSPREAD_SEEK_SET, 0);
VALUE(LANSPREAD_SEEK_CUR, 1);
VALUE(LANSPREAD_SEEK_END, 2);
VALUE(LANSPREAD_STREAM_FIN, 0x1u);

/* ---- lanspread_host_api (host.h) ---- */
SIZE(lanspread_host_api, 112);
OFF(lanspread_host_api, struct_size, 0);
MSIZE(lanspread_host_api, struct_size, 4);
OFF(lanspread_host_api, abi_major, 4);
MSIZE(lanspread_host_api, abi_major, 2);
OFF(lanspread_host_api, abi_minor, 6);
MSIZE(lanspread_host_api, abi_minor, 2);
OFF(lanspread_host_api, host_data, 8);
OFF(lanspread_host_api, log, 16);
OFF(lanspread_host_api, emit_event, 24);
OFF(lanspread_host_api, config_get, 32);
OFF(lanspread_host_api, watch_fd, 40);
OFF(lanspread_host_api, modify_fd, 48);
OFF(lanspread_host_api, unwatch_fd, 56);
OFF(lanspread_host_api, start_timer, 64);
OFF(lanspread_host_api, stop_timer, 72);
OFF(lanspread_host_api, now_ns, 80);
OFF(lanspread_host_api, post, 88);
OFF(lanspread_host_api, is_cancelled, 96);
OFF(lanspread_host_api, get_service, 104);

/* ---- lanspread_plugin_descriptor (plugin.h) ---- */
SIZE(lanspread_plugin_descriptor, 64);
OFF(lanspread_plugin_descriptor, struct_size, 0);
MSIZE(lanspread_plugin_descriptor, struct_size, 4);
OFF(lanspread_plugin_descriptor, kind, 4);
MSIZE(lanspread_plugin_descriptor, kind, 4);
OFF(lanspread_plugin_descriptor, id, 8);
OFF(lanspread_plugin_descriptor, name, 16);
OFF(lanspread_plugin_descriptor, version, 24);
OFF(lanspread_plugin_descriptor, vendor, 32);
OFF(lanspread_plugin_descriptor, description, 40);
OFF(lanspread_plugin_descriptor, capabilities, 48);
/* added in ABI 1.1 */
OFF(lanspread_plugin_descriptor, config_keys, 56);
VALUE(LANSPREAD_DESCRIPTOR_SIZE_V1_0, 56);

/* ---- lanspread_plugin_entry (plugin.h) ---- */
SIZE(lanspread_plugin_entry, 40);
OFF(lanspread_plugin_entry, struct_size, 0);
MSIZE(lanspread_plugin_entry, struct_size, 4);
OFF(lanspread_plugin_entry, abi_major, 4);
MSIZE(lanspread_plugin_entry, abi_major, 2);
OFF(lanspread_plugin_entry, abi_minor, 6);
MSIZE(lanspread_plugin_entry, abi_minor, 2);
OFF(lanspread_plugin_entry, descriptor, 8);
OFF(lanspread_plugin_entry, init, 16);
OFF(lanspread_plugin_entry, shutdown, 24);
OFF(lanspread_plugin_entry, get_interface, 32);
VALUE(LANSPREAD_ENTRY_SIZE_V1_0, 40);

/* ---- lanspread_byte_source (kinds/unpacker.h) ---- */
SIZE(lanspread_byte_source, 48);
OFF(lanspread_byte_source, struct_size, 0);
MSIZE(lanspread_byte_source, struct_size, 4);
OFF(lanspread_byte_source, source_data, 8);
OFF(lanspread_byte_source, read, 16);
OFF(lanspread_byte_source, seek, 24);
OFF(lanspread_byte_source, size, 32);
OFF(lanspread_byte_source, path, 40);

/* ---- lanspread_archive_entry (kinds/unpacker.h) ---- */
SIZE(lanspread_archive_entry, 64);
OFF(lanspread_archive_entry, struct_size, 0);
MSIZE(lanspread_archive_entry, struct_size, 4);
OFF(lanspread_archive_entry, type, 4);
MSIZE(lanspread_archive_entry, type, 4);
OFF(lanspread_archive_entry, path, 8);
OFF(lanspread_archive_entry, path_len, 16);
MSIZE(lanspread_archive_entry, path_len, 8);
OFF(lanspread_archive_entry, size_bytes, 24);
MSIZE(lanspread_archive_entry, size_bytes, 8);
OFF(lanspread_archive_entry, mode, 32);
MSIZE(lanspread_archive_entry, mode, 4);
OFF(lanspread_archive_entry, mtime_s, 40);
MSIZE(lanspread_archive_entry, mtime_s, 8);
OFF(lanspread_archive_entry, link_target, 48);
OFF(lanspread_archive_entry, link_target_len, 56);
MSIZE(lanspread_archive_entry, link_target_len, 8);

/* ---- lanspread_unpacker_v1 (kinds/unpacker.h) ---- */
SIZE(lanspread_unpacker_v1, 48);
OFF(lanspread_unpacker_v1, struct_size, 0);
MSIZE(lanspread_unpacker_v1, struct_size, 4);
OFF(lanspread_unpacker_v1, probe, 8);
OFF(lanspread_unpacker_v1, open, 16);
OFF(lanspread_unpacker_v1, next_entry, 24);
OFF(lanspread_unpacker_v1, read_data, 32);
OFF(lanspread_unpacker_v1, close, 40);

/* ---- lanspread_frontend_v1 (kinds/frontend.h) ---- */
SIZE(lanspread_frontend_v1, 24);
OFF(lanspread_frontend_v1, struct_size, 0);
MSIZE(lanspread_frontend_v1, struct_size, 4);
OFF(lanspread_frontend_v1, start, 8);
OFF(lanspread_frontend_v1, stop, 16);

/* ---- lanspread_control_v1 (services/control.h) ---- */
SIZE(lanspread_control_v1, 40);
OFF(lanspread_control_v1, struct_size, 0);
MSIZE(lanspread_control_v1, struct_size, 4);
OFF(lanspread_control_v1, control_data, 8);
OFF(lanspread_control_v1, submit, 16);
OFF(lanspread_control_v1, subscribe, 24);
OFF(lanspread_control_v1, unsubscribe, 32);

/* ---- lanspread_transport_config (kinds/transport.h) ---- */
SIZE(lanspread_transport_config, 64);
OFF(lanspread_transport_config, struct_size, 0);
MSIZE(lanspread_transport_config, struct_size, 4);
OFF(lanspread_transport_config, bind_addr, 8);
OFF(lanspread_transport_config, cert_der, 16);
OFF(lanspread_transport_config, cert_der_len, 24);
MSIZE(lanspread_transport_config, cert_der_len, 8);
OFF(lanspread_transport_config, key_der, 32);
OFF(lanspread_transport_config, key_der_len, 40);
MSIZE(lanspread_transport_config, key_der_len, 8);
OFF(lanspread_transport_config, idle_timeout_ns, 48);
MSIZE(lanspread_transport_config, idle_timeout_ns, 8);
OFF(lanspread_transport_config, keepalive_ns, 56);
MSIZE(lanspread_transport_config, keepalive_ns, 8);

/* ---- lanspread_remote_identity (kinds/transport.h) ---- */
SIZE(lanspread_remote_identity, 32);
OFF(lanspread_remote_identity, struct_size, 0);
MSIZE(lanspread_remote_identity, struct_size, 4);
OFF(lanspread_remote_identity, remote_addr, 8);
OFF(lanspread_remote_identity, key_fingerprint, 16);
OFF(lanspread_remote_identity, key_fingerprint_len, 24);
MSIZE(lanspread_remote_identity, key_fingerprint_len, 8);

/* ---- lanspread_transport_events (kinds/transport.h) ---- */
SIZE(lanspread_transport_events, 56);
OFF(lanspread_transport_events, struct_size, 0);
MSIZE(lanspread_transport_events, struct_size, 4);
OFF(lanspread_transport_events, user_data, 8);
OFF(lanspread_transport_events, on_connected, 16);
OFF(lanspread_transport_events, on_stream_opened, 24);
OFF(lanspread_transport_events, on_stream_data, 32);
OFF(lanspread_transport_events, on_writable, 40);
OFF(lanspread_transport_events, on_closed, 48);

/* ---- lanspread_transport_v1 (kinds/transport.h) ---- */
SIZE(lanspread_transport_v1, 80);
OFF(lanspread_transport_v1, struct_size, 0);
MSIZE(lanspread_transport_v1, struct_size, 4);
OFF(lanspread_transport_v1, listen, 8);
OFF(lanspread_transport_v1, local_address, 16);
OFF(lanspread_transport_v1, destroy_endpoint, 24);
OFF(lanspread_transport_v1, connect, 32);
OFF(lanspread_transport_v1, open_stream, 40);
OFF(lanspread_transport_v1, send, 48);
OFF(lanspread_transport_v1, consume, 56);
OFF(lanspread_transport_v1, reset_stream, 64);
OFF(lanspread_transport_v1, close, 72);

/* ---- lanspread_service_record (kinds/discovery.h) ---- */
SIZE(lanspread_service_record, 40);
OFF(lanspread_service_record, struct_size, 0);
MSIZE(lanspread_service_record, struct_size, 4);
OFF(lanspread_service_record, service_type, 8);
OFF(lanspread_service_record, instance_name, 16);
OFF(lanspread_service_record, port, 24);
MSIZE(lanspread_service_record, port, 2);
OFF(lanspread_service_record, txt, 32);

/* ---- lanspread_discovered_service (kinds/discovery.h) ---- */
SIZE(lanspread_discovered_service, 40);
OFF(lanspread_discovered_service, struct_size, 0);
MSIZE(lanspread_discovered_service, struct_size, 4);
OFF(lanspread_discovered_service, instance_name, 8);
OFF(lanspread_discovered_service, address, 16);
OFF(lanspread_discovered_service, port, 24);
MSIZE(lanspread_discovered_service, port, 2);
OFF(lanspread_discovered_service, txt, 32);

/* ---- lanspread_discovery_events (kinds/discovery.h) ---- */
SIZE(lanspread_discovery_events, 32);
OFF(lanspread_discovery_events, struct_size, 0);
MSIZE(lanspread_discovery_events, struct_size, 4);
OFF(lanspread_discovery_events, user_data, 8);
OFF(lanspread_discovery_events, on_resolved, 16);
OFF(lanspread_discovery_events, on_lost, 24);

/* ---- lanspread_discovery_v1 (kinds/discovery.h) ---- */
SIZE(lanspread_discovery_v1, 48);
OFF(lanspread_discovery_v1, struct_size, 0);
MSIZE(lanspread_discovery_v1, struct_size, 4);
OFF(lanspread_discovery_v1, advertise, 8);
OFF(lanspread_discovery_v1, update_txt, 16);
OFF(lanspread_discovery_v1, stop_advert, 24);
OFF(lanspread_discovery_v1, browse, 32);
OFF(lanspread_discovery_v1, stop_browse, 40);

#endif /* __x86_64__ || __aarch64__ */

int main(void) {
    /* Everything is checked at compile time; a build that got here passed. */
    return 0;
}
