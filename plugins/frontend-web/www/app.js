// The lanspread page: a model built from GET /api/v1/state and kept current by the event
// stream (GET /api/v1/events), drawn into the static skeleton of index.html. Every action is
// a command sent to POST /api/v1/command. The API and the events are described in
// docs/web-api.md and docs/cli-contract.md.
//
// Everything that comes from the network is put into the page with textContent or as an
// attribute value, never parsed as HTML, so a peer's name cannot inject markup.
'use strict';

(function() {
const API = '/api/v1';
const MiB = 1048576;
// At most one state refetch per this many ms after peer events (a burst of peer-updated
// events on a busy LAN would otherwise hammer the server).
const REFRESH_MS = 300;
const FINISHED_KEPT = 5;
const INFO_MESSAGE_MS = 15000;
const MESSAGES_KEPT = 8;

// ---- the model ----

const model = {
    status : null,
    // peer_id -> {row (list-peers row), connected, since (ms or null), seenBy (ms), lostAt,
    // lostReason}
    peers : new Map(),
    local : new Map(),  // id -> list-games local row
    remote : new Map(), // id -> list-games remote row
    operations : {},    // game -> operation
    // game -> {game, bytesDone, bytesTotal, bytesResumed, mibPerS, activePeers, startedMs,
    //          updatedMs, sources: Map peer_id -> {addr, bytes}}
    downloads : new Map(),
    finished : [],   // recent download outcomes, newest first: {game, text, ok}
    baselineId : 0,  // last_event_id of the snapshot the model was built from
    lastEventId : 0, // newest event id applied
};

// ---- small helpers ----

function el(tag, attrs, text) {
    const node = document.createElement(tag);
    if (attrs) {
        for (const [k, v] of Object.entries(attrs)) {
            if (v === undefined || v === null || v === false)
                continue;
            if (k === 'class')
                node.className = v;
            else
                node.setAttribute(k, v === true ? '' : String(v));
        }
    }
    if (text !== undefined && text !== null)
        node.textContent = String(text);
    return node;
}

function $(id) { return document.getElementById(id); }

function formatBytes(n) {
    if (typeof n !== 'number' || !isFinite(n))
        return '?';
    if (n < 1024)
        return n + ' B';
    const units = [ 'KiB', 'MiB', 'GiB', 'TiB' ];
    let v = n;
    let u = -1;
    do {
        v /= 1024;
        ++u;
    } while (v >= 1024 && u < units.length - 1);
    return v.toFixed(1) + ' ' + units[u];
}

function formatDuration(seconds) {
    if (!isFinite(seconds) || seconds < 0)
        return '?';
    const s = Math.round(seconds);
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    const sec = String(s % 60).padStart(2, '0');
    return h > 0 ? h + ':' + String(m).padStart(2, '0') + ':' + sec : m + ':' + sec;
}

function formatTime(ms) { return new Date(ms).toLocaleTimeString(); }

function shortId(peerId) { return typeof peerId === 'string' ? peerId.slice(0, 8) : ''; }

function gameName(id) {
    const row = model.local.get(id) || model.remote.get(id);
    return row && row.name ? row.name : id;
}

function peerLabel(peerId, addr) {
    const p = model.peers.get(peerId);
    const name = p && p.row && p.row.name;
    if (name)
        return name + ' (' + (addr || (p.row && p.row.addr) || shortId(peerId)) + ')';
    return addr || shortId(peerId);
}

// ---- messages ----

// What each error code means, as the end of a sentence "Could not <verb> <what>: ...".
const CODE_TEXT = {
    'invalid-command' : 'the request was not understood',
    'unknown-game' : 'it is not in this peer\'s catalog',
    'operation-in-progress' : 'another operation is already running on it',
    'insufficient-space' : 'there is not enough free disk space',
    'already-downloaded' : 'it is already downloaded (install it instead)',
    'no-peers-have-game' : 'no connected peer has it',
    'not-downloading' : 'it is not being downloaded',
    'not-downloaded' : 'it is not downloaded',
    'not-installed' : 'it is not installed',
    'already-installed' : 'it is installed (uninstall it first)',
    'self-connect' : 'that address is this peer itself',
    'connect-failed' : 'the connection failed',
    'timeout' : 'the peer did not answer in time',
    'io-error' : 'a file system operation failed',
    'internal-error' : 'the peer hit an internal error',
    'unauthorized' :
        'the page\'s token is missing or wrong; open the URL from the peer\'s log again',
    'forbidden-host' : 'the server refused this host name',
    'forbidden-origin' : 'the server refused this page\'s origin',
    'body-too-large' : 'the request was too large',
    'too-many-event-streams' : 'too many pages are open on this peer',
    'shutting-down' : 'the peer is shutting down',
    'network' : 'the peer could not be reached',
};
// Codes whose server message carries the useful detail (figures, protocol codes, paths).
const CODE_WITH_DETAIL = new Set([
    'invalid-command',
    'insufficient-space',
    'connect-failed',
    'io-error',
    'internal-error',
]);

function errorSentence(what, error) {
    const code = (error && error.code) || 'error';
    const message = (error && error.message) || '';
    let reason = CODE_TEXT[code];
    if (!reason)
        reason = message || 'it failed';
    else if (CODE_WITH_DETAIL.has(code) && message)
        reason = reason + ' — ' + message;
    return 'Could not ' + what + ': ' + reason + ' (' + code + ').';
}

// key, when given, names a message that replaces the previous one of that key (and that
// clearMessage(key) removes once the problem is gone).
function showMessage(kind, text, key) {
    const box = $('messages');
    if (key)
        clearMessage(key);
    const item = el('div', {
        class : 'message ' + kind,
        'data-kind' : kind,
        'data-key' : key,
        role : kind === 'error' ? 'alert' : 'status'
    });
    item.appendChild(el('span', {class : 'message-text'}, text));
    const close = el('button', {
        type : 'button',
        class : 'message-close',
        'aria-label' : 'Dismiss',
        'data-action' : 'dismiss'
    },
                     '×');
    close.addEventListener('click', () => item.remove());
    item.appendChild(close);
    box.prepend(item);
    while (box.children.length > MESSAGES_KEPT)
        box.lastElementChild.remove();
    if (kind !== 'error')
        setTimeout(() => item.remove(), INFO_MESSAGE_MS);
}

function clearMessage(key) {
    for (const old of $('messages').querySelectorAll('.message'))
        if (old.dataset.key === key)
            old.remove();
}

// ---- commands ----

let nextCommandId = 1;

// Sends one command; resolves to the result's data, or rejects with an {code, message}
// error (the kernel's, or the HTTP layer's).
async function command(body) {
    const payload = Object.assign({id : 'web-' + nextCommandId++}, body);
    let response;
    try {
        response = await fetch(API + '/command', {
            method : 'POST',
            headers : {'Content-Type' : 'application/json'},
            body : JSON.stringify(payload),
            credentials : 'same-origin',
        });
    } catch (e) {
        throw {code : 'network', message : String(e)};
    }
    let json = null;
    try {
        json = await response.json();
    } catch (e) {
        throw {
            code : 'http-' + response.status,
            message : 'the server answered ' + response.status + ' without JSON'
        };
    }
    if (!response.ok || !json || json.ok !== true) {
        const error = (json && json.error) ||
                      {code : 'http-' + response.status, message : 'HTTP ' + response.status};
        throw error;
    }
    return json.data || {};
}

// Runs a command from a button: disables the button meanwhile and turns a failure into a
// sentence in the message area. Returns the data, or null on failure.
async function run(button, what, body) {
    if (button)
        button.disabled = true;
    try {
        return await command(body);
    } catch (error) {
        showMessage('error', errorSentence(what, error));
        return null;
    } finally {
        if (button)
            button.disabled = false;
    }
}

// ---- the state snapshot ----

let fetching = false;
let queued = []; // events that arrived while a snapshot was being fetched
let refreshTimer = null;
let lastFetchAt = 0;
let refreshAgain = false;

async function fetchState() {
    if (fetching) {
        refreshAgain = true;
        return;
    }
    fetching = true;
    lastFetchAt = Date.now();
    try {
        const response =
            await fetch(API + '/state', {credentials : 'same-origin', cache : 'no-store'});
        let json = null;
        try {
            json = await response.json();
        } catch (e) {
            json = null;
        }
        if (!response.ok || !json || json.ok !== true) {
            const error = (json && json.error) ||
                          {code : 'http-' + response.status, message : 'HTTP ' + response.status};
            showMessage('error', errorSentence('load the peer\'s state', error), 'state');
            retryLater();
            return false;
        }
        applySnapshot(json);
        clearMessage('state');
        // The first snapshot (or the first after the stream was refused) starts the stream.
        if (!source)
            openStream();
        return true;
    } catch (e) {
        showMessage(
            'error',
            errorSentence('load the peer\'s state', {code : 'network', message : String(e)}),
            'state');
        retryLater();
        return false;
    } finally {
        fetching = false;
        // Events that came while fetching: the snapshot already holds those up to its
        // last_event_id; apply only the newer ones.
        const pending = queued;
        queued = [];
        for (const [id, ev] of pending)
            if (id > model.lastEventId || ev.event === 'web-replay-gap')
                applyEvent(id, ev);
        if (refreshAgain) {
            refreshAgain = false;
            scheduleRefresh();
        }
        scheduleRender();
    }
}

function scheduleRefresh() {
    if (refreshTimer !== null)
        return;
    const wait = Math.max(50, lastFetchAt + REFRESH_MS - Date.now());
    refreshTimer = setTimeout(() => {
        refreshTimer = null;
        fetchState();
    }, wait);
}

function applySnapshot(s) {
    const now = Date.now();
    model.status = s.status || {};
    model.operations = Object.assign({}, model.status.active_operations || {});

    const seen = new Set();
    for (const row of s.peers || []) {
        seen.add(row.peer_id);
        const old = model.peers.get(row.peer_id);
        const keep = old && old.connected;
        model.peers.set(row.peer_id, {
            row,
            connected : true,
            since : keep ? old.since : null,
            seenBy : keep ? old.seenBy : now,
            lostAt : null,
            lostReason : null,
        });
    }
    for (const [id, p] of model.peers) {
        if (!seen.has(id) && p.connected) {
            p.connected = false;
            p.lostAt = now;
            p.lostReason = 'no longer connected';
        }
    }

    model.local = new Map((s.games && s.games.local || []).map((g) => [g.id, g]));
    model.remote = new Map((s.games && s.games.remote || []).map((g) => [g.id, g]));

    model.downloads = new Map();
    for (const d of s.downloads || []) {
        const sources = new Map();
        for (const src of d.sources || [])
            sources.set(src.peer_id, {addr : src.addr, bytes : src.bytes || 0});
        model.downloads.set(d.game, {
            game : d.game,
            bytesDone : d.bytes_done || 0,
            bytesTotal : d.bytes_total || 0,
            bytesResumed : d.bytes_resumed || 0,
            mibPerS : d.mib_per_s || 0,
            activePeers : d.active_peers || 0,
            startedMs : d.started_ms || now,
            updatedMs : d.updated_ms || now,
            sources,
        });
    }

    model.baselineId = typeof s.last_event_id === 'number' ? s.last_event_id : 0;
    model.lastEventId = model.baselineId;
    scheduleRender();
}

// ---- events ----

function download(game, ts) {
    let d = model.downloads.get(game);
    if (!d) {
        d = {
            game,
            bytesDone : 0,
            bytesTotal : 0,
            bytesResumed : 0,
            mibPerS : 0,
            activePeers : 0,
            startedMs : ts || Date.now(),
            updatedMs : ts || Date.now(),
            sources : new Map(),
        };
        model.downloads.set(game, d);
    }
    return d;
}

function finish(game, text, ok) {
    model.downloads.delete(game);
    model.finished.unshift({game, text, ok});
    model.finished.length = Math.min(model.finished.length, FINISHED_KEPT);
}

// "source: 48.0 MiB, other: 1.0 MiB" from a download-finished sources object.
function sourcesText(sources) {
    const parts = [];
    for (const [peerId, bytes] of Object.entries(sources || {})) {
        const p = model.peers.get(peerId);
        parts.push(((p && p.row && p.row.name) || shortId(peerId)) + ': ' + formatBytes(bytes));
    }
    return parts.join(', ');
}

function applyEvent(id, ev) {
    if (ev.event === 'web-replay-gap') {
        // The stream could not replay everything since our last event (or the peer
        // restarted): start over from a fresh snapshot.
        model.lastEventId = id;
        fetchState();
        return;
    }
    if (fetching) {
        queued.push([ id, ev ]);
        return;
    }
    if (id <= model.lastEventId)
        return; // replayed twice (a reconnect): already applied
    model.lastEventId = id;

    const g = ev.game;
    switch (ev.event) {
    case 'local-peer-ready': scheduleRefresh(); break;
    case 'peer-connected':
    case 'peer-updated': {
        const old = model.peers.get(ev.peer_id);
        const row = Object.assign({}, old ? old.row : {}, {
            peer_id : ev.peer_id,
            addr : ev.addr,
            games : ev.games || [],
            partials : ev.partials || [],
        });
        if (ev.name !== undefined)
            row.name = ev.name;
        const wasConnected = old && old.connected;
        model.peers.set(ev.peer_id, {
            row,
            connected : true,
            since : wasConnected && ev.event === 'peer-updated' ? old.since : ev.ts_ms,
            seenBy : wasConnected ? old.seenBy : ev.ts_ms,
            lostAt : null,
            lostReason : null,
        });
        scheduleRefresh(); // transport, via and the remote games list come from the state
        break;
    }
    case 'peer-lost': {
        const p = model.peers.get(ev.peer_id);
        if (p) {
            p.connected = false;
            p.lostAt = ev.ts_ms;
            p.lostReason = ev.reason || '';
        } else {
            model.peers.set(ev.peer_id, {
                row : {peer_id : ev.peer_id, addr : ev.addr, games : [], partials : []},
                connected : false,
                since : null,
                seenBy : null,
                lostAt : ev.ts_ms,
                lostReason : ev.reason || '',
            });
        }
        scheduleRefresh();
        break;
    }
    case 'peer-refused':
        showMessage('error', 'Refused the peer at ' + ev.addr + ' (' + shortId(ev.peer_id) +
                                 '): ' + ev.reason + ' (' + ev.code + ').');
        break;
    case 'runtime-failed':
        showMessage('error', 'The plugin ' + ev.component + ' failed: ' + ev.error + '.');
        break;
    case 'local-library-changed':
        model.local = new Map((ev.games || []).map((row) => [row.id, row]));
        if (model.status)
            model.status.library_revision = ev.revision;
        break;
    case 'active-operations': model.operations = Object.assign({}, ev.operations || {}); break;
    case 'download-begin': {
        model.downloads.delete(g); // a new run: its own sources
        const d = download(g, ev.ts_ms);
        d.bytesTotal = ev.bytes_total || 0;
        d.bytesResumed = ev.bytes_resumed || 0;
        d.bytesDone = d.bytesResumed;
        d.activePeers = (ev.peers || []).length;
        break;
    }
    case 'download-progress': {
        const d = download(g, ev.ts_ms);
        d.bytesDone = ev.bytes_done;
        d.bytesTotal = ev.bytes_total;
        d.mibPerS = ev.mib_per_s;
        d.activePeers = ev.active_peers;
        d.updatedMs = ev.ts_ms;
        break;
    }
    case 'download-chunk-finished': {
        // Bytes per source: the snapshot's sources hold everything up to its
        // last_event_id, so only newer chunks are added.
        if (id > model.baselineId) {
            const d = download(g, ev.ts_ms);
            const src = d.sources.get(ev.peer_id) || {addr : ev.peer_addr, bytes : 0};
            src.addr = ev.peer_addr || src.addr;
            src.bytes += ev.bytes || 0;
            d.sources.set(ev.peer_id, src);
        }
        break;
    }
    case 'download-chunk-rejected':
        showMessage('error', gameName(g) + ': a chunk from ' + peerLabel(ev.peer_id, ev.peer_addr) +
                                 ' failed its check (' + ev.reason +
                                 '); that peer is no longer a source.');
        break;
    case 'download-finished': {
        const n = Object.keys(ev.sources || {}).length;
        const text = gameName(g) + ': downloaded ' + formatBytes(ev.bytes) + ' in ' +
                     (ev.duration_ms / 1000).toFixed(1) + ' s, ' + Number(ev.mib_per_s).toFixed(1) +
                     ' MiB/s from ' + n + (n === 1 ? ' peer' : ' peers') +
                     (n ? ' (' + sourcesText(ev.sources) + ')' : '');
        finish(g, text, true);
        showMessage('info', text);
        break;
    }
    case 'download-failed': {
        const text = gameName(g) + ': download failed: ' + ev.error;
        finish(g, text, false);
        showMessage('error', text + '.');
        break;
    }
    case 'download-cancelled': {
        const text = gameName(g) + ': download cancelled (the verified chunks stay on disk)';
        finish(g, text, false);
        showMessage('info', text + '.');
        break;
    }
    case 'download-peers-gone':
        showMessage('error', gameName(g) + ': every source peer is gone.');
        break;
    case 'install-finished':
        showMessage('info', gameName(g) + ': ' + (ev.updated ? 'updated' : 'installed') + ' (' +
                                ev.files + ' files, ' + formatBytes(ev.bytes) + ').');
        break;
    case 'install-failed':
        showMessage('error', gameName(g) + ': install failed: ' + ev.error + '.');
        break;
    case 'uninstall-finished': showMessage('info', gameName(g) + ': uninstalled.'); break;
    case 'uninstall-failed':
        showMessage('error', gameName(g) + ': uninstall failed: ' + ev.error + '.');
        break;
    default: return; // nothing on the page shows it
    }
    scheduleRender();
}

// ---- the event stream ----

let source = null;
let retryTimer = null;

// A fresh snapshot in a while (which also reopens a refused stream).
function retryLater() {
    if (retryTimer !== null)
        return;
    retryTimer = setTimeout(() => {
        retryTimer = null;
        fetchState();
    }, 3000);
}

function setStreamState(state, text) {
    const pill = $('stream-state');
    pill.dataset.stream = state;
    pill.textContent = text;
}

function openStream() {
    if (source)
        source.close();
    // since= for the first connection; on a reconnect the browser adds Last-Event-ID itself.
    // Either way an event seen twice is skipped by its id.
    source = new EventSource(API + '/events?since=' + encodeURIComponent(model.lastEventId));
    let opened = false;
    source.onopen = () => {
        setStreamState('open', 'live');
        // A reconnect (the browser's own, after a dropped connection): the peer may have
        // restarted and counts its event ids from 1 again, so start over from a snapshot.
        if (opened)
            fetchState();
        opened = true;
    };
    source.onmessage = (msg) => {
        let ev;
        try {
            ev = JSON.parse(msg.data);
        } catch (e) {
            return;
        }
        if (!ev || typeof ev.event !== 'string')
            return;
        const id = Number(msg.lastEventId);
        applyEvent(Number.isFinite(id) ? id : model.lastEventId + 1, ev);
    };
    source.onerror = () => {
        if (source.readyState === EventSource.CLOSED) {
            // The server refused the stream (401, 503, ...): the browser does not retry by
            // itself, so try again in a while from a fresh snapshot.
            setStreamState('closed', 'disconnected, retrying…');
            source.close();
            source = null;
            retryLater();
        } else {
            setStreamState('connecting', 'reconnecting…');
        }
    };
}

// ---- drawing ----

let renderPending = false;

function scheduleRender() {
    if (renderPending)
        return;
    renderPending = true;
    requestAnimationFrame(() => {
        renderPending = false;
        render();
    });
}

function render() {
    renderStatus();
    renderDownloads();
    renderGames();
    renderPeers();
}

// Keeps a tbody's rows in the order of items, rebuilding a row only when what it shows
// changed (its signature), so buttons stay the same elements between updates.
function syncRows(tbody, items, key, signature, build) {
    const existing = new Map();
    for (const tr of Array.from(tbody.children))
        existing.set(tr.dataset.key, tr);
    items.forEach((item, index) => {
        const k = key(item);
        const sig = signature(item);
        let tr = existing.get(k);
        existing.delete(k);
        if (!tr || tr.dataset.sig !== sig) {
            const fresh = build(item);
            fresh.dataset.key = k;
            fresh.dataset.sig = sig;
            if (tr)
                tr.replaceWith(fresh);
            tr = fresh;
        }
        const at = tbody.children[index] || null;
        if (tr !== at)
            tbody.insertBefore(tr, at);
    });
    for (const tr of existing.values())
        tr.remove();
}

function cell(label, text, attrs) {
    return el('td', Object.assign({'data-label' : label}, attrs || {}), text);
}

function renderStatus() {
    const s = model.status;
    if (!s)
        return;
    const box = $('status');
    box.dataset.ready = 'true';
    box.dataset.peerId = s.peer_id || '';
    const connected = Array.from(model.peers.values()).filter((p) => p.connected).length;
    const transports =
        (s.transports || []).map((t) => t.transport + ' ' + t.listen_addr).join(', ');
    const values = {
        name : s.name,
        version : s.version,
        peer_id : s.peer_id,
        listen_addr : s.listen_addr,
        transports : transports || '—',
        games_dir : s.games_dir,
        state_dir : s.state_dir,
        peer_count : connected,
    };
    for (const [k, v] of Object.entries(values)) {
        const dd = box.querySelector('[data-status="' + k + '"]');
        const text = v === undefined || v === null ? '' : String(v);
        if (dd.textContent !== text)
            dd.textContent = text;
    }
    $('peer-name').textContent = s.name ? '· ' + s.name : '';
    document.title = s.name ? 'lanspread · ' + s.name : 'lanspread';
    const gamedir = $('gamedir-path');
    if (!gamedir.value && document.activeElement !== gamedir)
        gamedir.placeholder = s.games_dir || '';

    syncRows($('plugins'), s.plugins || [], (p) => p.id,
             (p) => JSON.stringify([ p.kind, p.version ]), (p) => {
                 const tr = el('tr', {'data-plugin' : p.id});
                 tr.append(cell('ID', p.id), cell('Kind', p.kind), cell('Version', p.version));
                 return tr;
             });
    const rejected = s.rejected_plugins || [];
    $('rejected-block').hidden = rejected.length === 0;
    syncRows($('rejected'), rejected, (r) => r.path, (r) => JSON.stringify([ r.failure, r.reason ]),
             (r) => {
                 const tr = el('tr', {'data-rejected' : r.path});
                 tr.append(cell('Path', r.path), cell('Failure', r.failure),
                           cell('Reason', r.reason));
                 return tr;
             });
}

function renderDownloads() {
    const box = $('downloads');
    const present = new Map();
    for (const node of Array.from(box.children))
        present.set(node.dataset.download, node);
    for (const d of model.downloads.values()) {
        let node = present.get(d.game);
        present.delete(d.game);
        if (!node) {
            node = buildDownload(d.game);
            box.appendChild(node);
        }
        updateDownload(node, d);
    }
    for (const node of present.values())
        node.remove();
    $('downloads-empty').hidden = model.downloads.size > 0;

    const list = $('finished');
    const sig = JSON.stringify(model.finished);
    if (list.dataset.sig !== sig) {
        list.dataset.sig = sig;
        list.replaceChildren(...model.finished.map(
            (f) => el('li', {class : f.ok ? 'ok' : 'failed', 'data-finished' : f.game}, f.text)));
    }
}

function buildDownload(game) {
    const node = el('div', {class : 'download', 'data-download' : game});
    const head = el('div', {class : 'download-head'});
    head.append(el('strong', {class : 'download-name'}), el('span', {class : 'download-op muted'}));
    const bar = el('div', {
        class : 'bar',
        role : 'progressbar',
        'aria-valuemin' : 0,
        'aria-valuemax' : 100,
        'data-bytes-done' : 0,
        'data-bytes-total' : 0,
    });
    bar.appendChild(el('div', {class : 'bar-fill'}));
    const line = el('div', {class : 'download-line'});
    line.append(el('span', {class : 'download-percent'}), el('span', {class : 'download-bytes'}),
                el('span', {class : 'download-rate'}), el('span', {class : 'download-eta'}),
                el('span', {class : 'download-peers'}));
    const cancel = el('button', {
        type : 'button',
        class : 'danger small',
        'data-action' : 'cancel-download',
        'data-game' : game
    },
                      'Cancel');
    cancel.addEventListener('click', () => run(cancel, 'cancel the download of ' + game,
                                               {cmd : 'cancel-download', game}));
    head.appendChild(cancel);
    node.append(head, bar, line, el('ul', {class : 'download-sources'}));
    return node;
}

function setText(node, text) {
    if (node.textContent !== text)
        node.textContent = text;
}

function updateDownload(node, d) {
    const total = d.bytesTotal || 0;
    // Progress events come every 500 ms, chunk events as chunks land: between two progress
    // events the verified chunks are the newer figure, so the bar agrees with the sources.
    let fromSources = d.bytesResumed || 0;
    for (const src of d.sources.values())
        fromSources += src.bytes;
    const done = Math.min(Math.max(d.bytesDone || 0, fromSources), total || Infinity);
    const pct = total > 0 ? (100 * done) / total : 0;
    const op = model.operations[d.game];
    setText(node.querySelector('.download-name'), gameName(d.game));
    setText(node.querySelector('.download-op'),
            op === 'StreamInstalling' ? 'stream-install' : 'download');
    const bar = node.querySelector('.bar');
    bar.dataset.bytesDone = String(done);
    bar.dataset.bytesTotal = String(total);
    bar.setAttribute('aria-valuenow', pct.toFixed(0));
    node.querySelector('.bar-fill').style.width = pct.toFixed(2) + '%';
    node.dataset.bytesDone = String(done);
    setText(node.querySelector('.download-percent'), pct.toFixed(0) + '%');
    setText(node.querySelector('.download-bytes'), formatBytes(done) + ' / ' + formatBytes(total));
    setText(node.querySelector('.download-rate'), Number(d.mibPerS || 0).toFixed(1) + ' MiB/s');
    const rate = (d.mibPerS || 0) * MiB;
    setText(node.querySelector('.download-eta'),
            'ETA ' + (rate > 0 ? formatDuration((total - done) / rate) : '?'));
    setText(node.querySelector('.download-peers'),
            d.activePeers + (d.activePeers === 1 ? ' peer' : ' peers'));

    const sources = Array.from(d.sources.entries()).sort((a, b) => b[1].bytes - a[1].bytes);
    syncRows(node.querySelector('.download-sources'), sources, (s) => s[0],
             (s) => JSON.stringify([ s[1].addr, s[1].bytes, peerLabel(s[0], s[1].addr) ]),
             ([ peerId, src ]) => {
                 const li = el('li', {'data-source' : peerId, 'data-bytes' : src.bytes});
                 li.append(el('span', {class : 'source-name'}, peerLabel(peerId, src.addr)),
                           el('span', {class : 'source-bytes'}, formatBytes(src.bytes)));
                 return li;
             });
}

// The actions that make sense for a game in its current state.
function gameActions(id, local, remote, op) {
    if (op === 'Downloading' || op === 'StreamInstalling')
        return [ 'cancel-download' ];
    if (op)
        return [];
    const actions = [];
    const downloaded = !!(local && local.downloaded);
    const installed = !!(local && local.installed);
    const offered = !!(remote && remote.peer_count > 0);
    if (offered && (!downloaded || local.availability === 'Stale'))
        actions.push('download');
    if (offered && !downloaded && !installed)
        actions.push('stream-install');
    if (downloaded && !installed)
        actions.push('install');
    if (installed)
        actions.push('play', 'uninstall');
    if (downloaded && !installed)
        actions.push('remove');
    return actions;
}

const ACTION_LABEL = {
    'download' : 'Download',
    'stream-install' : 'Stream-install',
    'cancel-download' : 'Cancel',
    'install' : 'Install',
    'uninstall' : 'Uninstall',
    'remove' : 'Remove',
    'play' : 'Play',
};
const ACTION_VERB = {
    'download' : 'download',
    'stream-install' : 'stream-install',
    'cancel-download' : 'cancel the download of',
    'install' : 'install',
    'uninstall' : 'uninstall',
    'remove' : 'remove',
    'play' : 'play',
};

function onGameAction(button, action, id) {
    const name = gameName(id);
    if (action === 'play') {
        openPlay(id);
        return;
    }
    if (action === 'remove' &&
        !window.confirm('Remove the downloaded files of ' + name + ' (' + id +
                        ')? They have to be downloaded again to install it.'))
        return;
    run(button, ACTION_VERB[action] + ' ' + id, {cmd : action, game : id}).then((data) => {
        if (data && action === 'remove')
            showMessage('info', name + ': the downloaded files are removed.');
    });
}

function yesNo(v) { return v ? 'yes' : 'no'; }

function renderGames() {
    const ids = new Set([...model.local.keys(), ...model.remote.keys() ]);
    const items = Array.from(ids).map((id) => {
        const local = model.local.get(id) || null;
        const remote = model.remote.get(id) || null;
        const op = model.operations[id] || '';
        return {id, local, remote, op, actions : gameActions(id, local, remote, op)};
    });
    items.sort((a, b) => gameName(a.id).localeCompare(gameName(b.id)) || a.id.localeCompare(b.id));
    syncRows($('games'), items, (g) => g.id,
             (g) => JSON.stringify([ g.local, g.remote, g.op, g.actions ]), buildGameRow);
    $('games-empty').hidden = items.length > 0;
    $('games-table').hidden = items.length === 0;
}

function buildGameRow(g) {
    const {id, local, remote, op} = g;
    const downloaded = !!(local && local.downloaded);
    const installed = !!(local && local.installed);
    const tr = el('tr', {
        'data-game' : id,
        'data-downloaded' : String(downloaded),
        'data-installed' : String(installed),
        'data-availability' : local ? local.availability : 'remote',
        'data-operation' : op,
        'data-peer-count' : remote ? remote.peer_count : 0,
    });
    let version = local && local.version ? local.version : '';
    if (remote && remote.eti_game_version && remote.eti_game_version !== version) {
        version = version ? version + ' (peers: ' + remote.eti_game_version + ')'
                          : remote.eti_game_version;
    }
    const size = local && local.size ? local.size : remote ? remote.size : 0;
    let peers = '—';
    if (remote) {
        peers = remote.peer_count + ' ready';
        if (remote.partial_peers)
            peers += ' + ' + remote.partial_peers + ' partial';
    }
    tr.append(cell('Name', local ? local.name : remote.name, {class : 'game-name'}),
              cell('ID', id, {class : 'mono'}), cell('Version', version || '—'),
              cell('Availability', local ? local.availability : 'on peers only'),
              cell('Size', size ? formatBytes(size) : '—', {class : 'num'}),
              cell('Peers', peers, {class : 'num'}),
              cell('Downloaded', yesNo(downloaded), {class : downloaded ? 'yes' : 'no'}),
              cell('Installed', yesNo(installed), {class : installed ? 'yes' : 'no'}),
              cell('Operation', op || '—', {class : op ? 'busy' : ''}));
    const actions = cell('Actions', null, {class : 'actions'});
    for (const action of g.actions) {
        const b = el('button', {
            type : 'button',
            'data-action' : action,
            'data-game' : id,
            class : action === 'remove' || action === 'uninstall' || action === 'cancel-download'
                        ? 'danger small'
                        : 'small',
        },
                     ACTION_LABEL[action]);
        b.addEventListener('click', () => onGameAction(b, action, id));
        actions.appendChild(b);
    }
    tr.appendChild(actions);
    return tr;
}

function renderPeers() {
    const items = Array.from(model.peers.values());
    // Connected first, then the lost ones, newest loss first.
    items.sort((a, b) => (b.connected - a.connected) || ((b.lostAt || 0) - (a.lostAt || 0)) ||
                         String(a.row.name || '').localeCompare(String(b.row.name || '')));
    syncRows($('peers'), items, (p) => p.row.peer_id, (p) => JSON.stringify(p), (p) => {
        const r = p.row;
        const tr = el('tr', {
            'data-peer' : r.peer_id,
            'data-live' : p.connected ? 'connected' : 'lost',
            class : p.connected ? '' : 'lost'
        });
        let transport = r.transport || '?';
        if (r.via)
            transport += ' (via ' + r.via + ')';
        const games = (r.games || []).length;
        const partials = (r.partials || []).length;
        let liveness;
        let livenessTitle = null;
        if (p.connected) {
            // list-peers has no connection time: for a peer that was already connected when
            // the page loaded, only that much is known.
            liveness = p.since ? 'connected since ' + formatTime(p.since) : 'connected';
            if (!p.since)
                livenessTitle = 'connected before the page loaded at ' + formatTime(p.seenBy);
        } else {
            liveness =
                'lost at ' + formatTime(p.lostAt) + (p.lostReason ? ': ' + p.lostReason : '');
        }
        tr.append(cell('Name', r.name || '?', {class : 'peer-name'}),
                  cell('Peer ID', shortId(r.peer_id), {class : 'mono', title : r.peer_id}),
                  cell('Address', r.addr || '?', {class : 'mono'}), cell('Transport', transport),
                  cell('Games', games + (partials ? ' + ' + partials + ' partial' : ''),
                       {'data-games' : games}),
                  cell('Liveness', liveness,
                       {class : p.connected ? 'live' : 'gone', title : livenessTitle}));
        return tr;
    });
    $('peers-empty').hidden = items.length > 0;
    $('peers-table').hidden = items.length === 0;
}

// ---- forms ----

let playGame = null;

function openPlay(id) {
    playGame = id;
    $('play-game').textContent = gameName(id);
    const dialog = $('play-dialog');
    if (typeof dialog.showModal === 'function')
        dialog.showModal();
    else
        dialog.setAttribute('open', '');
    $('play-username').focus();
}

function setupForms() {
    $('connect-form').addEventListener('submit', async (e) => {
        e.preventDefault();
        const input = $('connect-addr');
        const addr = input.value.trim();
        if (!addr)
            return;
        const data = await run(e.submitter || null, 'connect to ' + addr, {cmd : 'connect', addr});
        if (data) {
            input.value = '';
            showMessage('info', 'Connected to ' + addr + ' (peer ' + shortId(data.peer_id) + ').');
            scheduleRefresh();
        }
    });
    $('gamedir-form').addEventListener('submit', async (e) => {
        e.preventDefault();
        const input = $('gamedir-path');
        const path = input.value.trim();
        if (!path)
            return;
        const data = await run(e.submitter || null, 'switch the games directory to ' + path,
                               {cmd : 'set-game-dir', path});
        if (data) {
            input.value = '';
            showMessage('info', 'The games directory is now ' + (data.games_dir || path) + '.');
            scheduleRefresh();
        }
    });
    $('play-cancel').addEventListener('click', () => $('play-dialog').close());
    $('play-form').addEventListener('submit', async (e) => {
        e.preventDefault();
        const game = playGame;
        const username = $('play-username').value.trim();
        const language = $('play-language').value.trim();
        if (!game || !username || !language)
            return;
        $('play-dialog').close();
        const data = await run(null, 'apply the play settings of ' + game,
                               {cmd : 'play', game, username, language});
        if (data) {
            const name = gameName(game);
            showMessage('info',
                        data.already_applied
                            ? name +
                                  ': the first-play settings were already applied; nothing changed.'
                            : name + ': ready to play as ' + username + ' (' + language + ').');
        }
    });
}

// ---- start ----

// The first snapshot opens the stream; until one loads, fetchState tries again every 3 s.
function start() { fetchState(); }

let started = false;
function boot() {
    if (started)
        return;
    started = true;
    setupForms();
    start();
}
if (document.readyState === 'loading')
    document.addEventListener('DOMContentLoaded', boot);
else
    boot();
})();
