#!/usr/bin/env python3
"""N Server-Sent Events clients of a peer's web frontend (docs/web-api.md), for run-web.sh.

    web_streams.py URL_FILE N [--until EVENT] [--wait-s S]

URL_FILE is the peer's <state dir>/frontend-web.url (http://HOST:PORT/?token=TOKEN). Opens N
streams on GET /api/v1/events with `Authorization: Bearer <token>`, checks that each is
answered 200 with text/event-stream, prints `ready N` on standard output and then reads all of
them (one thread, non-blocking sockets): every message is parsed (its `id:` and its `data:`
JSON) and counted per stream and per event name, `: keepalive` comments separately, and each
stream's ids are checked to follow one another without a gap.

When standard input reaches its end the clients stop. With --until EVENT they first wait (at
most --wait-s seconds, default 20) until every stream has received an event named EVENT, so
the counts cover a whole download. Then one JSON object goes to standard output:

    {"streams": [{"events": 187, "by_event": {...}, "keepalives": 0, "first_id": 12,
                  "last_id": 198, "id_gaps": 0, "saw_until": true, "closed_by_server": false},
                 ...],
     "seconds": 12.3}

Exits 1 when a stream was refused, closed by the server, or skipped an id, or (with --until)
one never received EVENT: the events did not reach every client.
"""
import argparse
import json
import os
import selectors
import socket
import sys
import time
import urllib.parse


class Stream:
    def __init__(self, host, port, token):
        self.sock = socket.create_connection((host, port), timeout=10)
        request = (f"GET /api/v1/events HTTP/1.1\r\nHost: {host}:{port}\r\n"
                   f"Authorization: Bearer {token}\r\nAccept: text/event-stream\r\n"
                   "Cache-Control: no-cache\r\n\r\n")
        self.sock.sendall(request.encode())
        self.buffer = b""
        self.headers_done = False
        self.events = 0
        self.by_event = {}
        self.keepalives = 0
        self.first_id = None
        self.last_id = None
        self.id_gaps = 0
        self.closed_by_server = False
        self.saw = set()
        self._id = None      # the message being read
        self._data = []

    def read_headers(self, deadline):
        """Reads up to the blank line after the headers; raises on anything but a 200 stream."""
        while b"\r\n\r\n" not in self.buffer:
            self.sock.settimeout(max(0.1, deadline - time.time()))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise SystemExit(f"web_streams: the server closed a stream before answering: {self.buffer!r}")
            self.buffer += chunk
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.decode("latin-1").split("\r\n")
        status = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, v in (l.split(":", 1) for l in lines[1:] if ":" in l)}
        if len(status) < 2 or status[1] != "200":
            body = self.buffer.decode("utf-8", "replace")[:300]
            raise SystemExit(f"web_streams: the stream was answered {lines[0]!r}: {body}")
        if not headers.get("content-type", "").startswith("text/event-stream"):
            raise SystemExit(f"web_streams: the stream's content type is {headers.get('content-type')!r}")
        if headers.get("transfer-encoding", "").lower() == "chunked":
            raise SystemExit("web_streams: a chunked event stream (docs/web-api.md says it is not)")
        self.headers_done = True
        self.sock.setblocking(False)

    def feed(self, chunk):
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        for raw in lines:
            line = raw.rstrip(b"\r").decode("utf-8")
            if line == "":
                self._dispatch()
            elif line.startswith(":"):
                self.keepalives += 1
            elif line.startswith("id:"):
                self._id = int(line[3:].strip())
            elif line.startswith("data:"):
                self._data.append(line[5:].lstrip(" ") if line[5:6] == " " else line[5:])
            # retry: and other fields carry nothing to count

    def _dispatch(self):
        if not self._data:  # the `retry:` block, or a comment's blank line
            self._id = None
            return
        event = json.loads("\n".join(self._data))
        name = event.get("event", "?")
        self.events += 1
        self.by_event[name] = self.by_event.get(name, 0) + 1
        self.saw.add(name)
        if self._id is not None:
            if self.last_id is not None and self._id != self.last_id + 1:
                self.id_gaps += 1
            if self.first_id is None:
                self.first_id = self._id
            self.last_id = self._id
        self._id = None
        self._data = []

    def report(self, until):
        return {"events": self.events, "by_event": dict(sorted(self.by_event.items())),
                "keepalives": self.keepalives, "first_id": self.first_id, "last_id": self.last_id,
                "id_gaps": self.id_gaps, "saw_until": (until in self.saw) if until else None,
                "closed_by_server": self.closed_by_server}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("url_file")
    parser.add_argument("n", type=int)
    parser.add_argument("--until")
    parser.add_argument("--wait-s", type=float, default=20)
    args = parser.parse_args()
    url = urllib.parse.urlsplit(open(args.url_file).read().strip())
    token = urllib.parse.parse_qs(url.query)["token"][0]
    deadline = time.time() + 30
    streams = [Stream(url.hostname, url.port, token) for _ in range(args.n)]
    for s in streams:
        s.read_headers(deadline)
    started = time.time()
    print(f"ready {len(streams)}", flush=True)

    sel = selectors.DefaultSelector()
    for s in streams:
        sel.register(s.sock, selectors.EVENT_READ, s)
    sel.register(sys.stdin, selectors.EVENT_READ, None)
    # A stream may already hold the start of the body (read along with the headers).
    for s in streams:
        if s.buffer:
            pending, s.buffer = s.buffer, b""
            s.feed(pending)
    stop_at = None  # set when standard input ends
    while True:
        if stop_at is not None:
            done = not args.until or all(args.until in s.saw for s in streams)
            if done or time.time() >= stop_at:
                break
        for key, _ in sel.select(timeout=0.5):
            if key.data is None:
                if not os.read(sys.stdin.fileno(), 4096):
                    sel.unregister(sys.stdin)
                    stop_at = time.time() + args.wait_s
                continue
            s = key.data
            try:
                chunk = s.sock.recv(65536)
            except BlockingIOError:
                continue
            if not chunk:
                s.closed_by_server = True
                sel.unregister(s.sock)
                continue
            s.feed(chunk)
    seconds = time.time() - started
    for s in streams:
        s.sock.close()
    reports = [s.report(args.until) for s in streams]
    print(json.dumps({"streams": reports, "seconds": round(seconds, 3)}), flush=True)
    bad = [i for i, r in enumerate(reports)
           if r["closed_by_server"] or r["id_gaps"] or (args.until and not r["saw_until"])]
    if bad:
        print(f"web_streams: streams {bad} lost events or were closed (see the report)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
