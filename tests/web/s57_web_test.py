#!/usr/bin/python3
"""S57: the web page in a real browser.

Two real lanspreadd processes on 127.0.0.1: a source serving a game with a 48 MiB archive at
12 MiB/s, and a receiver running frontend-web (and frontend-cli). Headless Chromium, driven by
Selenium, opens the receiver's page and does what a person would: a connect to the receiver's
own address (a readable self-connect error must show), a connect to the source through the
form, a click on the game's download button; it reads the live progress bar twice with growing
bytes, waits for the game to show downloaded and installed, and checks the installed files by
SHA-256 against the source's archive. Screenshots at load, mid-download, after the install and
at phone width (375 px, where the page must not scroll sideways) go to the artefact dir.

Usage: s57_web_test.py --lanspreadd BIN --plugin-dir DIR --artefacts DIR [--www-dir DIR]
(--www-dir serves the page from another folder, e.g. the source tree while editing it.)
Set LANSPREAD_KEEP_LAB=1 to keep the lab dir (games, states, logs) after the run.
"""

import argparse
import base64
import hashlib
import json
import os
import queue
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import zipfile

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By

GAME = 'cnctw'
# Markup in a name from the network must show as text, never become elements.
GAME_NAME = 'Command & Conquer 3 <b>Tiberium</b> Wars <img src=x>'
SMALL_GAME = 'css'
CATALOG_VERSION = '20250301'
PAYLOAD_BYTES = 48 << 20
UPLOAD_LIMIT_MIB_S = 12
TOTAL_BUDGET_S = 170  # ctest's TIMEOUT is 180: leave time for the cleanup
CHROMIUM = '/usr/bin/chromium'
CHROMEDRIVER = '/usr/bin/chromedriver'


class Failure(Exception):
    pass


def log(*parts):
    print('[S57 %6.1fs]' % (time.monotonic() - T0), *parts, flush=True)


T0 = time.monotonic()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for block in iter(lambda: f.read(1 << 20), b''):
            h.update(block)
    return h.hexdigest()


def tree_hashes(root, skip_top=()):
    """relative path -> sha256 of every regular file under root (top-level names in skip_top
    left out)."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        if rel_dir == '.':
            dirnames[:] = [d for d in dirnames if d not in skip_top]
        for name in filenames:
            rel = os.path.normpath(os.path.join(rel_dir, name))
            if rel_dir == '.' and name in skip_top:
                continue
            out[rel] = sha256_file(os.path.join(dirpath, name))
    return out


class Daemon:
    """One lanspreadd, driven over frontend-cli's JSONL on stdin/stdout; stderr to a file."""

    def __init__(self, label, lab, args, plugins, ini):
        self.label = label
        self.home = os.path.join(lab, label)
        self.games = os.path.join(self.home, 'games')
        self.state = os.path.join(self.home, 'state')
        os.makedirs(self.games, exist_ok=True)
        os.makedirs(self.state, exist_ok=True)
        self.config = os.path.join(self.home, 'peer.ini')
        with open(self.config, 'w') as f:
            f.write(ini)
        self.stderr_path = os.path.join(self.home, 'stderr.log')
        self.argv = [args.lanspreadd, '--games', self.games, '--state', self.state,
                     '--catalog', os.path.join(lab, 'catalog.json'), '--listen', '127.0.0.1:0',
                     '--name', label, '--plugin-dir', args.plugin_dir, '--plugins', plugins,
                     '--config', self.config, '--json']
        self.proc = None
        self.lines = queue.Queue()
        self.events = []  # every stdout object, in order
        self.next_id = 0
        self.peer_id = None
        self.listen_addr = None

    def start(self):
        self._stderr = open(self.stderr_path, 'wb')
        self.proc = subprocess.Popen(self.argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, cwd=self.home)
        threading.Thread(target=self._read, daemon=True).start()
        ready = self.wait_event(lambda e: e.get('event') == 'local-peer-ready', 30)
        self.peer_id = ready['peer_id']
        self.listen_addr = ready['listen_addr']
        log(self.label, 'ready: pid', self.proc.pid, 'peer', self.peer_id, 'at', self.listen_addr)

    def _read(self):
        for raw in self.proc.stdout:
            try:
                obj = json.loads(raw)
            except ValueError:
                obj = {'event': '!not-json', 'line': raw.decode(errors='replace')}
            self.lines.put(obj)

    def _pump(self, timeout):
        try:
            obj = self.lines.get(timeout=timeout)
        except queue.Empty:
            return False
        self.events.append(obj)
        return True

    def wait_event(self, pred, timeout, start=0):
        deadline = time.monotonic() + timeout
        i = start
        while True:
            while i < len(self.events):
                if pred(self.events[i]):
                    return self.events[i]
                i += 1
            left = deadline - time.monotonic()
            if left <= 0:
                raise Failure('%s: no matching event within %.0f s' % (self.label, timeout))
            if not self._pump(min(left, 0.5)) and self.proc.poll() is not None:
                raise Failure('%s exited with %s' % (self.label, self.proc.returncode))

    def command(self, cmd, timeout=30):
        self.next_id += 1
        ident = '%s-%d' % (self.label, self.next_id)
        body = dict(cmd, id=ident)
        self.proc.stdin.write((json.dumps(body) + '\n').encode())
        self.proc.stdin.flush()
        result = self.wait_event(lambda e: e.get('event') == 'result' and e.get('id') == ident,
                                 timeout, start=len(self.events))
        if not result.get('ok'):
            raise Failure('%s: %s failed: %s' % (self.label, cmd, json.dumps(result)))
        return result.get('data', {})

    def stop(self):
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            self.proc.stdin.write(b'{"cmd":"shutdown"}\n')
            self.proc.stdin.flush()
            self.proc.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stderr_tail(self, n=25):
        try:
            with open(self.stderr_path, errors='replace') as f:
                return ''.join(f.readlines()[-n:])
        except OSError:
            return '(no stderr)'


def write_lab(lab):
    """The catalog, and the source's games: GAME (a stored zip holding a 48 MiB
    pseudo-random payload and a small text file) and SMALL_GAME (a tiny zip)."""
    catalog = {'games': [
        {'id': GAME, 'name': GAME_NAME, 'version': CATALOG_VERSION},
        {'id': SMALL_GAME, 'name': 'Counter-Strike: Source', 'version': CATALOG_VERSION},
    ]}
    with open(os.path.join(lab, 'catalog.json'), 'w') as f:
        json.dump(catalog, f)

    source_games = os.path.join(lab, 'source', 'games')
    rng = random.Random(57)
    payload = rng.randbytes(PAYLOAD_BYTES)
    expected = {}
    for game, files in ((GAME, {'bin/cnctw-payload.bin': payload,
                                'readme.txt': b'S57 payload for the web page test\n',
                                'account_name.txt': b'player\n'}),
                        (SMALL_GAME, {'cfg/language.txt': b'english\n'})):
        root = os.path.join(source_games, game)
        os.makedirs(root, exist_ok=True)
        with zipfile.ZipFile(os.path.join(root, game + '.eti'), 'w', zipfile.ZIP_STORED) as z:
            for name, data in files.items():
                z.writestr(name, data)
        with open(os.path.join(root, 'version.ini'), 'w') as f:
            f.write(CATALOG_VERSION + '\n')
        expected[game] = {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}
    return expected


class Page:
    """The browser and the page, with waits that poll the DOM."""

    def __init__(self, artefacts, lab):
        self.artefacts = artefacts
        self.shots = []
        opts = webdriver.ChromeOptions()
        opts.binary_location = CHROMIUM
        for a in ('--headless=new', '--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu',
                  '--window-size=1280,800', '--user-data-dir=' + os.path.join(lab, 'chromium'),
                  '--disable-extensions', '--no-first-run', '--disable-background-networking'):
            opts.add_argument(a)
        opts.set_capability('goog:loggingPrefs', {'browser': 'ALL'})
        self.service = Service(CHROMEDRIVER, log_output=os.path.join(lab, 'chromedriver.log'))
        self.driver = webdriver.Chrome(service=self.service, options=opts)
        self.driver.set_page_load_timeout(60)
        self.driver.set_script_timeout(30)
        # A 1280x800 viewport (headless windows count their frame too).
        inner = self.js('return [window.innerWidth, window.innerHeight]')
        self.desktop_window = (1280 + (1280 - inner[0]), 800 + (800 - inner[1]))
        self.driver.set_window_size(*self.desktop_window)

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def wait(self, what, fn, timeout=30, interval=0.1):
        deadline = time.monotonic() + timeout
        last_error = None
        while time.monotonic() < deadline:
            try:
                value = fn()
                if value:
                    return value
            except (StaleElementReferenceException, WebDriverException) as e:
                last_error = e
            time.sleep(interval)
        raise Failure('page: %s not within %.0f s%s' % (what, timeout,
                                                         ' (last error: %s)' % last_error if last_error else ''))

    def one(self, css):
        found = self.driver.find_elements(By.CSS_SELECTOR, css)
        return found[0] if found else None

    def attr(self, css, name):
        return self.js('const e = document.querySelector(arguments[0]);'
                       'return e ? e.getAttribute(arguments[1]) : null;', css, name)

    def text(self, css):
        return self.js('const e = document.querySelector(arguments[0]);'
                       'return e ? e.textContent : null;', css)

    def messages(self, kind):
        return self.js('return Array.from(document.querySelectorAll("#messages .message.' + kind +
                       ' .message-text")).map(e => e.textContent);')

    def shot(self, name, what):
        """Saves a screenshot of the whole page (not only the viewport) as name.png."""
        path = os.path.join(self.artefacts, name + '.png')
        width, height = self.js('return [document.documentElement.scrollWidth,'
                                ' document.documentElement.scrollHeight]')
        shot = self.driver.execute_cdp_cmd('Page.captureScreenshot', {
            'format': 'png', 'captureBeyondViewport': True,
            'clip': {'x': 0, 'y': 0, 'width': width, 'height': height, 'scale': 1}})
        with open(path, 'wb') as f:
            f.write(base64.b64decode(shot['data']))
        self.shots.append((path, what))
        log('screenshot', path, '-', what)
        return path

    def console(self):
        """'LEVEL message' of every browser console entry since the last call."""
        try:
            return ['%s %s' % (e['level'], e['message']) for e in self.driver.get_log('browser')]
        except WebDriverException:
            return []

    def quit(self):
        try:
            self.driver.quit()
        except Exception:
            pass


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--lanspreadd', required=True)
    p.add_argument('--plugin-dir', required=True)
    p.add_argument('--artefacts', required=True)
    p.add_argument('--www-dir', default='')
    return p.parse_args()


def on_alarm(signum, frame):
    raise Failure('S57 ran out of its %d s budget' % TOTAL_BUDGET_S)


def run(args, lab, page_holder, daemons):
    expected = write_lab(lab)
    source = Daemon('source', lab, args,
                    'org.lanspread.frontend.cli,org.lanspread.transport.quic,'
                    'org.lanspread.unpacker.libarchive',
                    '[lanspread]\nupload_limit_mib_s = %d\n' % UPLOAD_LIMIT_MIB_S)
    daemons.append(source)
    source.start()
    web_ini = '[plugin.org.lanspread.frontend.web]\nlisten = 127.0.0.1:0\n'
    if args.www_dir:
        web_ini += 'www_dir = %s\n' % os.path.abspath(args.www_dir)
    receiver = Daemon('receiver', lab, args,
                      'org.lanspread.frontend.web,org.lanspread.frontend.cli,'
                      'org.lanspread.transport.quic,org.lanspread.unpacker.libarchive', web_ini)
    daemons.append(receiver)
    receiver.start()

    status = receiver.command({'cmd': 'status'})
    rejected = status.get('rejected_plugins', [])
    if rejected:
        raise Failure('receiver rejected plugins: %s' % json.dumps(rejected))
    url_file = os.path.join(receiver.state, 'frontend-web.url')
    deadline = time.monotonic() + 10
    while not os.path.exists(url_file):
        if time.monotonic() > deadline:
            raise Failure('no %s within 10 s' % url_file)
        time.sleep(0.1)
    with open(url_file) as f:
        url = f.read().strip()
    log('page URL:', url.split('token=')[0] + 'token=<' + str(len(url.split('token=')[-1])) + ' hex digits>')

    page = Page(args.artefacts, lab)
    page_holder.append(page)
    log('browser started')
    page.driver.get(url)

    # ---- the page loaded: this peer's status, the plugins, a live stream ----
    # (generous: on a loaded machine Chromium's first page load can take many seconds)
    page.wait('the status', lambda: page.attr('#status', 'data-ready') == 'true', timeout=60)
    log('page loaded')
    if page.attr('#status', 'data-peer-id') != receiver.peer_id:
        raise Failure('the status shows peer %r, the receiver is %r' %
                      (page.attr('#status', 'data-peer-id'), receiver.peer_id))
    if page.text('[data-status="listen_addr"]') != receiver.listen_addr:
        raise Failure('the status shows listen address %r, the receiver listens on %r' %
                      (page.text('[data-status="listen_addr"]'), receiver.listen_addr))
    if page.text('[data-status="name"]') != 'receiver':
        raise Failure('the status shows name %r' % page.text('[data-status="name"]'))
    page.wait('the web plugin in the plugins table',
              lambda: page.one('tr[data-plugin="org.lanspread.frontend.web"]'))
    page.wait('the live event stream', lambda: page.attr('#stream-state', 'data-stream') == 'open')
    if page.js('return document.cookie.indexOf("lanspread_token") >= 0'):
        raise Failure('the token cookie is readable from JavaScript (it must be HttpOnly)')
    if 'token=' in page.driver.current_url:
        raise Failure('the token stayed in the address bar: %s' % page.driver.current_url.split('?')[0])
    page.shot('s57-1-load', 'the page at load: this peer, no peers, no games, the plugins table')

    # ---- an error reads as a sentence: connect to the receiver itself ----
    page.driver.find_element(By.ID, 'connect-addr').send_keys(receiver.listen_addr)
    page.driver.find_element(By.CSS_SELECTOR, '#connect-form [data-action="connect"]').click()
    errors = page.wait('the self-connect error', lambda: [m for m in page.messages('error') if 'self-connect' in m])
    want = 'Could not connect to %s: ' % receiver.listen_addr
    if not errors[0].startswith(want) or not errors[0].endswith('(self-connect).'):
        raise Failure('the self-connect error reads %r; expected "%s... (self-connect)."' % (errors[0], want))
    log('error shown:', errors[0])
    page.js('document.getElementById("connect-addr").value = ""')

    # ---- connect to the source through the form ----
    page.driver.find_element(By.ID, 'connect-addr').send_keys(source.listen_addr)
    page.driver.find_element(By.CSS_SELECTOR, '#connect-form [data-action="connect"]').click()
    peer_row = 'tr[data-peer="%s"]' % source.peer_id
    page.wait('the source in the peers table', lambda: page.attr(peer_row, 'data-live') == 'connected')
    if page.text(peer_row + ' .peer-name') != 'source':
        raise Failure('the source peer shows as %r' % page.text(peer_row + ' .peer-name'))
    page.wait('the source\'s address, transport and game count', lambda:
              page.text(peer_row + ' [data-label="Address"]') == source.listen_addr and
              (page.text(peer_row + ' [data-label="Transport"]') or '').startswith('quic') and
              page.attr(peer_row + ' [data-label="Games"]', 'data-games') == '2')
    game_row = 'tr[data-game="%s"]' % GAME
    download_button = game_row + ' button[data-action="download"]'
    page.wait('the source\'s games with download buttons', lambda:
              page.one(download_button) and
              page.one('tr[data-game="%s"] button[data-action="download"]' % SMALL_GAME))
    if page.attr(game_row, 'data-downloaded') != 'false' or page.attr(game_row, 'data-installed') != 'false':
        raise Failure('%s should show as not downloaded and not installed' % GAME)
    shown_name = page.text(game_row + ' .game-name')
    if shown_name != GAME_NAME:
        raise Failure('the game name shows as %r, expected the literal %r' % (shown_name, GAME_NAME))
    if page.js('return document.querySelectorAll("#games img, #games b").length') != 0:
        raise Failure('markup in a game name became elements: the page does not escape network text')
    if page.one(game_row + ' button[data-action="install"]') is not None:
        raise Failure('an install button shows for a game that is not downloaded')

    # ---- download: the live bar ----
    page.driver.find_element(By.CSS_SELECTOR, download_button).click()
    bar = '[data-download="%s"] .bar' % GAME

    def bytes_done():
        value = page.attr(bar, 'data-bytes-done')
        return int(value) if value is not None else None

    total = PAYLOAD_BYTES  # at least: the archive holds the payload
    first = page.wait('the progress bar moving', lambda: (bytes_done() or 0) > 0 and bytes_done(), timeout=20, interval=0.05)
    bar_total = int(page.attr(bar, 'data-bytes-total'))
    if bar_total < total:
        raise Failure('the bar says %d bytes in all; the archive alone is more than %d' % (bar_total, total))
    if first >= bar_total:
        raise Failure('the first reading is already the whole game (%d of %d): the download was '
                      'too fast to watch' % (first, bar_total))
    log('bar, first reading: %d of %d bytes' % (first, bar_total))
    # The rate (from download-progress: above 0 once bytes flow) and the ETA under the bar.
    def rate():
        text = page.text('[data-download="%s"] .download-rate' % GAME) or ''
        match = re.fullmatch(r'([0-9]+\.[0-9]) MiB/s', text)
        return float(match.group(1)) if match else 0.0
    shown_rate = page.wait('a rate above 0 MiB/s', lambda: rate() > 0 and rate(), timeout=10)
    eta = page.text('[data-download="%s"] .download-eta' % GAME) or ''
    if not re.fullmatch(r'ETA [0-9]+:[0-9]{2}', eta):
        raise Failure('the ETA reads %r' % eta)
    log('rate %.1f MiB/s, %s' % (shown_rate, eta))
    if page.one(game_row + ' button[data-action="cancel-download"]') is None:
        raise Failure('no cancel button on the game while it downloads')
    if page.one(download_button) is not None:
        raise Failure('the download button still shows while the game downloads')
    src = '[data-download="%s"] [data-source="%s"]' % (GAME, source.peer_id)
    page.wait('bytes from the source peer', lambda: int(page.attr(src, 'data-bytes') or 0) > 0, timeout=10)
    page.shot('s57-2-mid-download', 'mid-download: the live bar with bytes, MiB/s, ETA and bytes from the source')
    second = page.wait('the bar growing', lambda: (bytes_done() or 0) > first and bytes_done(), timeout=15, interval=0.05)
    log('bar, second reading: %d of %d bytes (+%d)' % (second, bar_total, second - first))
    from_source = int(page.attr(src, 'data-bytes') or 0)
    if from_source <= 0 or from_source > bar_total:
        raise Failure('the source delivered %d bytes by the page' % from_source)

    # ---- downloaded, then installed ----
    page.wait('the game downloaded', lambda: page.attr(game_row, 'data-downloaded') == 'true', timeout=60)
    page.wait('the game installed', lambda: page.attr(game_row, 'data-installed') == 'true' and
              page.attr(game_row, 'data-operation') == '', timeout=60)
    page.wait('the bar gone', lambda: page.one('[data-download="%s"]' % GAME) is None, timeout=10)
    finished = page.text('[data-finished="%s"]' % GAME) or ''
    if 'downloaded' not in finished or 'MiB/s' not in finished:
        raise Failure('the finished line reads %r' % finished)
    page.wait('play and uninstall buttons', lambda: page.one(game_row + ' button[data-action="play"]') and
              page.one(game_row + ' button[data-action="uninstall"]'))
    if page.one(game_row + ' button[data-action="download"]') or page.one(game_row + ' button[data-action="install"]'):
        raise Failure('download or install still offered for an installed game')
    if page.messages('error') != errors:
        raise Failure('unexpected errors on the page: %s' % page.messages('error'))
    page.shot('s57-3-installed', 'after the install: the game downloaded and installed, the finished line')

    # ---- the files, by SHA-256 ----
    got_local = tree_hashes(os.path.join(receiver.games, GAME, 'local'))
    if got_local != expected[GAME]:
        raise Failure('installed files differ from the source archive: got %s, expected %s' % (got_local, expected[GAME]))
    skip = ('local',)
    src_root = tree_hashes(os.path.join(source.games, GAME), skip)
    got_root = tree_hashes(os.path.join(receiver.games, GAME), skip)
    if src_root != got_root:
        raise Failure('downloaded files differ from the source: %s vs %s' % (got_root, src_root))
    log('files: %d installed and %d downloaded, SHA-256 equal to the source' % (len(got_local), len(got_root)))

    # ---- phone width ----
    page.driver.set_window_size(375, 812)
    page.wait('a 375 px viewport', lambda: page.js('return window.innerWidth') <= 400, timeout=5)
    time.sleep(0.3)  # let the layout settle
    width, scroll = page.js('return [window.innerWidth, document.documentElement.scrollWidth]')
    if scroll > width:
        raise Failure('at %d px the page scrolls sideways: scrollWidth %d' % (width, scroll))
    if page.js('return getComputedStyle(document.querySelector("#games-table thead")).display') != 'none':
        raise Failure('at phone width the games table is not shown as cards')
    page.shot('s57-4-phone', 'phone width (375 px): tables as cards, no sideways scroll')
    log('phone: innerWidth %d, scrollWidth %d' % (width, scroll))

    # ---- the other actions: play (a form), uninstall, remove (asks first) ----
    page.driver.set_window_size(*page.desktop_window)
    page.driver.find_element(By.CSS_SELECTOR, game_row + ' button[data-action="play"]').click()
    page.wait('the play form', lambda: page.js('return document.getElementById("play-dialog").open'))
    page.driver.find_element(By.ID, 'play-username').send_keys('Commander Ada')
    page.driver.find_element(By.CSS_SELECTOR, '#play-form [data-action="play-submit"]').click()
    page.wait('the play answer', lambda: [m for m in page.messages('info') if 'ready to play as Commander Ada' in m])
    with open(os.path.join(receiver.games, GAME, 'local', 'account_name.txt')) as f:
        account = f.read().strip()
    if account != 'Commander Ada':
        raise Failure('after play through the page account_name.txt holds %r' % account)
    page.wait('the uninstall button', lambda: page.one(game_row + ' button[data-action="uninstall"]')).click()
    page.wait('the game uninstalled', lambda: page.attr(game_row, 'data-installed') == 'false' and
              page.attr(game_row, 'data-downloaded') == 'true' and page.one(game_row + ' button[data-action="remove"]'),
              timeout=30)
    if os.path.exists(os.path.join(receiver.games, GAME, 'local')):
        raise Failure('the page says uninstalled, but local/ is still there')
    page.driver.find_element(By.CSS_SELECTOR, game_row + ' button[data-action="remove"]').click()
    page.wait('the confirmation', lambda: page.driver.switch_to.alert).dismiss()
    time.sleep(0.5)  # a remove sent despite the dismissal would show by now
    if not os.path.exists(os.path.join(receiver.games, GAME, 'version.ini')):
        raise Failure('remove ran although its confirmation was dismissed')
    page.driver.find_element(By.CSS_SELECTOR, game_row + ' button[data-action="remove"]').click()
    page.wait('the confirmation', lambda: page.driver.switch_to.alert).accept()
    page.wait('the game removed', lambda: page.attr(game_row, 'data-downloaded') == 'false' and
              page.one(game_row + ' button[data-action="download"]'), timeout=30)
    if os.path.exists(os.path.join(receiver.games, GAME)):
        raise Failure('the page says removed, but the game root is still there')
    log('play, uninstall and remove (after a dismissed confirmation) through the page')
    if page.messages('error') != errors:
        raise Failure('unexpected errors on the page: %s' % page.messages('error'))

    # Script errors, CSP refusals, failed requests: none in a clean run.
    console_errors = sorted(set(m for m in page.console() if m.startswith('SEVERE ')))
    if console_errors:
        raise Failure('JavaScript errors in the console: %s' % console_errors[:5])


def main():
    args = parse_args()
    os.makedirs(args.artefacts, exist_ok=True)
    for old in os.listdir(args.artefacts):
        if old.startswith('s57-') and old.endswith('.png'):
            os.remove(os.path.join(args.artefacts, old))
    lab = tempfile.mkdtemp(prefix='lanspread-s57-')
    log('lab', lab)
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(TOTAL_BUDGET_S)
    pages, daemons = [], []
    ok = False
    try:
        run(args, lab, pages, daemons)
        ok = True
    except Exception as e:  # report anything with the daemons' and the browser's view
        print('S57 FAILED: %s: %s' % (type(e).__name__, e), flush=True)
        for page in pages:
            try:
                page.shot('s57-9-failure', 'the page when the test failed')
            except Exception:
                pass
            for line in page.console()[-20:]:
                print('  console:', line)
        for d in daemons:
            print('---- %s stderr (last lines) ----\n%s' % (d.label, d.stderr_tail()))
            print('---- %s last events ----' % d.label)
            for ev in d.events[-8:]:
                print('  ', json.dumps(ev)[:300])
    finally:
        signal.alarm(0)
        for page in pages:
            page.quit()
        for d in reversed(daemons):
            d.stop()
        for page in pages:
            for path, what in page.shots:
                print('screenshot: %s  (%s)' % (path, what))
        if os.environ.get('LANSPREAD_KEEP_LAB') == '1' or not ok:
            print('lab kept at', lab)
        else:
            shutil.rmtree(lab, ignore_errors=True)
    log('PASSED' if ok else 'FAILED')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
