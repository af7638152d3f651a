/* lanspread plugin SDK — the transport interface, "lanspread.transport/1".
 *
 * Pure C (C11 and C++20 clean), no dependencies.
 *
 * A transport gives the kernel secure, reliable, multiplexed byte streams between peers
 * (QUIC, TLS over TCP). It authenticates with the local peer's certificate and reports the
 * remote certificate's public-key fingerprint; the kernel — not the transport — decides
 * whether that is the peer it expected, and closes the connection if not.
 *
 * Flow control: send() may accept fewer bytes than offered; the transport then calls
 * on_writable for that stream when it can take more. Received bytes are delivered with
 * on_stream_data; the transport extends the peer's send window only as the host reports
 * bytes consumed with consume(), so a slow reader bounds what the sender can push.
 *
 * Threads: every member and every callback runs on the reactor thread. Sockets and timers
 * go through host->watch_fd / host->start_timer. */
#ifndef LANSPREAD_KINDS_TRANSPORT_H
#define LANSPREAD_KINDS_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>

#include "../host.h"
#include "../status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LANSPREAD_TRANSPORT_INTERFACE_ID "lanspread.transport/1"

/* send() flags and on_stream_data flags. */
#define LANSPREAD_STREAM_FIN 0x1u /* this is the last data of the stream in this direction */
/* on_stream_data only (len 0): the peer abandoned the stream (RESET_STREAM or STOP_SENDING).
 * No more data comes and nothing more will be read: the host stops sending on it. */
#define LANSPREAD_STREAM_RESET 0x2u

/* Plugin-defined handles. */
typedef struct lanspread_transport_endpoint lanspread_transport_endpoint;
typedef struct lanspread_transport_conn lanspread_transport_conn;

/* The local side's settings for listen() and connect(). Implemented by: host.
 * Ownership: borrowed for the call; the transport copies what it keeps. */
typedef struct lanspread_transport_config {
    uint32_t struct_size;
    const char *bind_addr;   /* "ip:port" to bind; port 0 = ephemeral */
    const uint8_t *cert_der; /* the local peer's X.509 certificate, DER */
    size_t cert_der_len;
    const uint8_t *key_der; /* its private key, DER (PKCS#8) */
    size_t key_der_len;
    uint64_t idle_timeout_ns; /* close a connection silent this long; 0 = plugin default */
    uint64_t keepalive_ns;    /* send keep-alives this often; 0 = plugin default */
} lanspread_transport_config;

/* What the transport learned about the remote side. Implemented by: plugin.
 * Ownership: borrowed for the duration of the callback. */
typedef struct lanspread_remote_identity {
    uint32_t struct_size;
    const char *remote_addr;        /* "ip:port" the packets come from */
    const uint8_t *key_fingerprint; /* SHA-256 of the remote certificate's public key
                                       (SubjectPublicKeyInfo DER) */
    size_t key_fingerprint_len;     /* 32 */
} lanspread_remote_identity;

/* Callbacks from transport to host. Implemented by: host. Ownership: the table and
 * user_data must outlive every connection and endpoint they were given to; callbacks may
 * come until close()/destroy_endpoint() returns, never after. Thread: [reactor-thread]. */
typedef struct lanspread_transport_events {
    uint32_t struct_size;
    void *user_data;
    /* A connection finished its handshake (incoming on an endpoint, or one from connect()). */
    void (*on_connected)(void *user_data, lanspread_transport_conn *conn,
                         const lanspread_remote_identity *remote);
    /* The remote opened a stream. */
    void (*on_stream_opened)(void *user_data, lanspread_transport_conn *conn, uint64_t stream_id);
    /* Bytes arrived in order on a stream (flags may carry LANSPREAD_STREAM_FIN; len may be
     * 0 with FIN). Ownership: data is borrowed for the call. */
    void (*on_stream_data)(void *user_data, lanspread_transport_conn *conn, uint64_t stream_id,
                           const uint8_t *data, size_t len, uint32_t flags);
    /* A stream whose send() accepted less than offered can take more now. */
    void (*on_writable)(void *user_data, lanspread_transport_conn *conn, uint64_t stream_id);
    /* The connection is gone (handshake failure, idle timeout, remote close, close()).
     * status says why in graded form; reason is a short text for the log. The conn handle
     * is invalid after this returns. */
    void (*on_closed)(void *user_data, lanspread_transport_conn *conn, lanspread_status status,
                      const char *reason);
} lanspread_transport_events;

/* Implemented by: plugin. Ownership: static in the plugin; valid until its shutdown(). */
typedef struct lanspread_transport_v1 {
    uint32_t struct_size;

    /* Accepts incoming connections on config->bind_addr. Returns: OK and *out_endpoint; E_IO
     * (address in use, no such address). */
    lanspread_status (*listen)(void *state, const lanspread_transport_config *config,
                               const lanspread_transport_events *events,
                               lanspread_transport_endpoint **out_endpoint);

    /* Writes the endpoint's bound "ip:port" (snprintf style, as host->config_get).
     * Returns: OK; E_BUFFER_TOO_SMALL. */
    lanspread_status (*local_address)(lanspread_transport_endpoint *endpoint, char *buffer,
                                      size_t buffer_size, size_t *out_required);

    /* Stops accepting and closes the endpoint's connections (each gets on_closed). */
    void (*destroy_endpoint)(lanspread_transport_endpoint *endpoint);

    /* Starts a connection to remote_addr ("ip:port"); on_connected or on_closed follows.
     * Returns: OK and *out_conn; E_INVALID_ARGUMENT (bad address); E_IO. */
    lanspread_status (*connect)(void *state, const lanspread_transport_config *config,
                                const char *remote_addr, const lanspread_transport_events *events,
                                lanspread_transport_conn **out_conn);

    /* Opens a bidirectional stream. Returns: OK and *out_stream_id; E_AGAIN (stream limit
     * reached; retry after on_writable); E_FATAL (connection gone). */
    lanspread_status (*open_stream)(lanspread_transport_conn *conn, uint64_t *out_stream_id);

    /* Queues up to len bytes; *out_accepted says how many were taken (possibly 0 — then
     * wait for on_writable). flags may carry LANSPREAD_STREAM_FIN, which applies only if
     * every byte was accepted. Ownership: data is copied or sent before return.
     * Returns: OK; E_NOT_FOUND (unknown/closed stream); E_FATAL (connection gone). */
    lanspread_status (*send)(lanspread_transport_conn *conn, uint64_t stream_id,
                             const uint8_t *data, size_t len, uint32_t flags, size_t *out_accepted);

    /* Reports that the host has processed bytes of a stream delivered by on_stream_data,
     * so the transport may let the remote send that much more. Returns: OK; E_NOT_FOUND. */
    lanspread_status (*consume)(lanspread_transport_conn *conn, uint64_t stream_id, size_t bytes);

    /* Aborts a stream in both directions with an application error code. */
    lanspread_status (*reset_stream)(lanspread_transport_conn *conn, uint64_t stream_id,
                                     uint64_t app_error);

    /* Closes the connection; on_closed follows (possibly before this returns). */
    void (*close)(lanspread_transport_conn *conn, uint64_t app_error);
} lanspread_transport_v1;

#ifdef __cplusplus
}
#endif

#endif /* LANSPREAD_KINDS_TRANSPORT_H */
