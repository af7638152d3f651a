/* lanspread plugin SDK — the unpacker interface, "lanspread.unpacker/1".
 *
 * Pure C (C11 and C++20 clean), no dependencies.
 *
 * An unpacker turns an archive's bytes into a sequence of entries and their data; it never
 * writes to disk. The kernel offers the archive through a host-implemented byte source (like
 * libarchive's archive_read_open2 callbacks) and feeds every entry into its extraction sink,
 * the one audited place that checks paths ("..", absolute, symlink escapes, device files),
 * quotas and cancellation. The kernel chooses among loaded unpackers by probe() score.
 *
 * Threads: probe() is called on the reactor thread. A job (open .. close) runs on one worker
 * thread at a time: [worker-thread] members are never called concurrently for one job, but
 * different jobs may run at once on different workers. */
#ifndef LANSPREAD_KINDS_UNPACKER_H
#define LANSPREAD_KINDS_UNPACKER_H

#include <stddef.h>
#include <stdint.h>

#include "../host.h"
#include "../status.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LANSPREAD_UNPACKER_INTERFACE_ID "lanspread.unpacker/1"

/* Entry types. */
#define LANSPREAD_ENTRY_FILE      1u
#define LANSPREAD_ENTRY_DIRECTORY 2u
#define LANSPREAD_ENTRY_SYMLINK   3u
#define LANSPREAD_ENTRY_HARDLINK  4u
#define LANSPREAD_ENTRY_OTHER     5u /* device, fifo, socket: the sink refuses these */

/* Seek origins for lanspread_byte_source.seek. */
#define LANSPREAD_SEEK_SET 0
#define LANSPREAD_SEEK_CUR 1
#define LANSPREAD_SEEK_END 2

/* The archive's bytes. Implemented by: host. Ownership: the host's; valid from open() until
 * close() returns. Thread: called from the job's worker thread. */
typedef struct lanspread_byte_source lanspread_byte_source;
struct lanspread_byte_source {
    uint32_t struct_size;
    void *source_data; /* opaque to the plugin */
    /* Reads up to capacity bytes into buffer. *out_read == 0 with OK means end of archive.
     * Returns: OK; E_IO; E_CANCELLED (the job's token fired). Required. */
    lanspread_status (*read)(const lanspread_byte_source *source, uint8_t *buffer, size_t capacity,
                             size_t *out_read);
    /* Moves the read position; *out_position receives the new absolute position.
     * NULL when the source cannot seek. A streamed source (path NULL) seeks within
     * [0, size], but a far seek makes the kernel fetch those bytes out of order: slower than
     * reading on, so seek only where the format needs it (an end header, a directory).
     * Returns: OK; E_IO; E_CANCELLED (streamed); E_INVALID_ARGUMENT (unknown origin, or a
     * position outside [0, size] on a streamed source). */
    lanspread_status (*seek)(const lanspread_byte_source *source, int64_t offset, int32_t whence,
                             int64_t *out_position);
    /* Total size in bytes, or E_UNSUPPORTED when unknown. NULL when never known. */
    lanspread_status (*size)(const lanspread_byte_source *source, uint64_t *out_size_bytes);
    /* A local filesystem path of the same bytes, or NULL when the source is not a file:
     * a streamed install's archive, whose bytes arrive over the network and are verified
     * chunk by chunk. Then read may block until bytes arrive and fails with E_IO (the stream
     * failed) or E_CANCELLED; seek and size are offered; the position is 0 at open(). An
     * unpacker that cannot read such a source returns E_UNSUPPORTED from open(), with a log
     * line saying why, and the kernel offers the source to the next bidder. A sidecar
     * unpacker (an external extractor process) either runs the extractor on the path or
     * feeds it the bytes of read, on the job's worker thread. See the SDK's
     * docs/streamed-sources.md. */
    const char *path;
};

/* One archive entry. Filled by the plugin into a struct the host owns and sized:
 * the host sets struct_size, the plugin writes only members that fit. Ownership: the
 * pointers inside belong to the job and stay valid until the next next_entry() or close(). */
typedef struct lanspread_archive_entry {
    uint32_t struct_size;
    uint32_t type;       /* LANSPREAD_ENTRY_* */
    const uint8_t *path; /* raw path bytes as stored, '/'-separated, not NUL-terminated */
    size_t path_len;
    uint64_t size_bytes;        /* declared size; the sink never trusts it beyond a quota */
    uint32_t mode;              /* POSIX permission bits (0 = unknown) */
    int64_t mtime_s;            /* seconds since the epoch (0 = unknown) */
    const uint8_t *link_target; /* SYMLINK/HARDLINK target bytes, else NULL */
    size_t link_target_len;
} lanspread_archive_entry;

/* An open archive; defined privately by each plugin. */
typedef struct lanspread_unpack_job lanspread_unpack_job;

/* Implemented by: plugin. Ownership: static in the plugin; valid until its shutdown(). */
typedef struct lanspread_unpacker_v1 {
    uint32_t struct_size;

    /* How well the plugin can read an archive that starts with head[0..head_len) and is
     * named name_hint (may be NULL): 0 = cannot, 100 = certainly; bid lower when unsure.
     * Cheap and free of I/O. Thread: [reactor-thread] or [worker-thread]; must be
     * thread-safe. Ownership: head and name_hint are borrowed for the call.
     * Returns: OK and *out_score; E_INVALID_ARGUMENT. */
    lanspread_status (*probe)(void *state, const uint8_t *head, size_t head_len,
                              const char *name_hint, uint32_t *out_score);

    /* Opens the archive. Thread: [worker-thread]. Ownership: source and its callbacks are the
     * host's and valid until close(); *out_job is the plugin's until close().
     * Returns: OK; E_UNSUPPORTED (not this format after all); E_IO; E_CANCELLED. */
    lanspread_status (*open)(void *state, const lanspread_byte_source *source,
                             lanspread_cancel_handle cancel, lanspread_unpack_job **out_job);

    /* Advances to the next entry and describes it in *out_entry.
     * Thread: [worker-thread]. Ownership: see lanspread_archive_entry.
     * Returns: OK; END (no more entries); E_FAILED (entry unreadable, next may work);
     * E_FATAL (archive corrupt, stop); E_CANCELLED. */
    lanspread_status (*next_entry)(lanspread_unpack_job *job, lanspread_archive_entry *out_entry);

    /* Reads the current entry's data. *out_read == 0 with END means the entry is done.
     * Thread: [worker-thread]. Ownership: the host owns buffer.
     * Returns: OK; END; E_FATAL (corrupt data); E_CANCELLED; E_IO. */
    lanspread_status (*read_data)(lanspread_unpack_job *job, uint8_t *buffer, size_t capacity,
                                  size_t *out_read);

    /* Frees the job. Always called once for every job open() returned, even after E_FATAL.
     * Thread: [worker-thread]. */
    void (*close)(lanspread_unpack_job *job);
} lanspread_unpacker_v1;

#ifdef __cplusplus
}
#endif

#endif /* LANSPREAD_KINDS_UNPACKER_H */
