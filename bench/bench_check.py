"""Check benchmark: the link check against 100 loopback pages, and ``mailer check --offline``.

Run from the repository root:  .venv/bin/python bench/bench_check.py
Targets (issue #5): 100 links checked in under 2 s; ``mailer check ISSUE --offline`` under 1 s
as a whole command.

The pages are served over TLS (a throwaway self-signed certificate made with ``openssl``) by a
light threaded ``http.server``, as real sites are https; each connection's handshake happens in
its own thread. A second round delays every answer by 100 ms, like a slow real site, which
shows what the concurrent fetching buys (one at a time it would take over 10 s).
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from benchlib import ROOT, machine, median, time_command, write_section

sys.path.insert(0, str(ROOT / "src"))

from mailer.checks import CheckOptions, links, run_checks
from mailer.compose.issue import load
from mailer.delivery.prepare import prepare

ISSUE = "issues/2018-03-iom-turkey.yaml"
LINKS = 100
ROUNDS = 5
COMMAND_RUNS = 20
SLOW_SECONDS = 0.1

SETTINGS = """
[brand]
organisation = "Bench Aid"
logo = "issues/assets/iom-logo.png"
website = "{base}/home"

[sender]
name = "Bench Aid"
address = "news@example.org"

[footer]
postal_address = "1 Example Street, 06610 Ankara"
reason = "You subscribed."

[list]
id = "news.example.org"
unsubscribe_url = "{base}/unsubscribe?token={{token}}"

[[social]]
network = "website"
url = "{base}/social"
"""


class Page(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real servers do
    delay = 0.0

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def do_GET(self) -> None:
        self._answer(body=True)

    def _answer(self, body: bool) -> None:
        time.sleep(self.delay)
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "2")
        self.end_headers()
        if body:
            self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class TLSServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: type[Page], context: ssl.SSLContext) -> None:
        super().__init__(("127.0.0.1", 0), handler)
        self.context = context

    def finish_request(self, request, client_address) -> None:
        """In the connection's own thread: the TLS handshake, then HTTP."""
        try:
            with self.context.wrap_socket(request, server_side=True) as tls:
                self.RequestHandlerClass(tls, client_address, self)
        except (ssl.SSLError, OSError):
            return


@contextmanager
def site(folder: Path, delay: float) -> Iterator[str]:
    """A TLS site on 127.0.0.1 whose every page answers 200 after ``delay`` seconds."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    if not cert.exists():
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
             "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True,
        )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    handler = type("DelayedPage", (Page,), {"delay": delay})
    server = TLSServer(handler, context)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ["REQUESTS_CA_BUNDLE"] = str(cert)
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def project(folder: Path, base: str) -> Path:
    """A project whose issue has LINKS distinct links (10 sections of 10 stories)."""
    root = folder / f"project-{abs(hash(base))}"
    (root / "issues" / "assets").mkdir(parents=True)
    shutil.copytree(ROOT / "templates", root / "templates")
    shutil.copy(ROOT / "issues" / "assets" / "iom-logo.png", root / "issues" / "assets")
    (root / "mailer.toml").write_text(SETTINGS.format(base=base))
    lines = ["id: bench", "subject: Bench", "preheader: A hundred links.", "sections:"]
    for section in range(LINKS // 10):
        lines += [f"  - title: Section {section}", "    items:"]
        for item in range(10):
            number = section * 10 + item
            lines += [
                f"      - title: Story {number}", "        links:",
                "          - label: Read more", f"            url: {base}/page/{number}",
            ]
    issue = root / "issues" / "bench.yaml"
    issue.write_text("\n".join(lines) + "\n")
    return issue


def time_link_check(issue: Path, rounds: int, *, cache_ttl: float = 0) -> tuple[float, int]:
    loaded = load(issue)
    prepared = prepare(loaded, real_send=False)
    options = CheckOptions(cache_ttl=cache_ttl)
    times, problems = [], 0
    for _ in range(rounds):
        start = time.perf_counter()
        findings = links.check(loaded, prepared, options=options)
        times.append(time.perf_counter() - start)
        problems = sum(f.severity == "error" for f in findings)
    return median(times), problems


def offline_in_process() -> float:
    loaded = load(ROOT / ISSUE)
    prepared = prepare(loaded, real_send=False)
    times = []
    for _ in range(20):
        start = time.perf_counter()
        run_checks(loaded, prepared, offline=True)
        times.append(time.perf_counter() - start)
    return median(times)


def main() -> None:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        with site(folder, 0.0) as base:
            issue = project(folder, base)
            fast, fast_errors = time_link_check(issue, ROUNDS)
            cached, _ = time_link_check(issue, ROUNDS, cache_ttl=600)  # first round fills it
        with site(folder, SLOW_SECONDS) as base:
            slow, slow_errors = time_link_check(project(folder, base), 3)
        assert fast_errors == slow_errors == 0, "the bench site should answer every link"
        checks = offline_in_process()
        timing = time_command(f".venv/bin/mailer check {ISSUE} --offline", COMMAND_RUNS, folder)
        command, worst, how = timing.median, timing.slowest, timing.how
    urls = LINKS + 3
    rows = [
        (f"link check, {LINKS} links + {urls - LINKS} settings URLs, no cache, loopback TLS site",
         f"{fast * 1000:.0f} ms", "< 2 s"),
        (f"the same, every answer delayed {SLOW_SECONDS * 1000:.0f} ms (a slow site; one at a "
         f"time: {urls * SLOW_SECONDS:.1f} s)", f"{slow * 1000:.0f} ms", ""),
        ("the same, re-run within 10 minutes (`.mailer/link-cache.json`)",
         f"{cached * 1000:.1f} ms", "instant"),
        (f"offline checks in process, `{ISSUE}` (after load + render)",
         f"{checks * 1000:.0f} ms", ""),
        (f"whole command `mailer check {ISSUE} --offline`",
         f"{command * 1000:.0f} ms (slowest run {worst * 1000:.0f} ms)", "< 1 s"),
    ]
    table = "\n".join(f"| {what} | {value} | {target} |" for what, value, target in rows)
    body = f"""
## Check (`bench/bench_check.py`)

Machine: {machine()}
Command: `.venv/bin/python bench/bench_check.py`

| what | median | target |
| --- | --- | --- |
{table}

Link check: `links.check` on a generated issue with {LINKS} distinct links (10 sections of 10
stories) served over TLS by a threaded `http.server` on 127.0.0.1 with a throwaway self-signed
certificate; median of {ROUNDS} rounds (3 for the slow site), each a HEAD per URL from 16
threads. Whole command: `{how}`; it loads, renders and runs every check but the browser
(`--offline` implies `--no-render`).
"""
    write_section("bench_check", body)
    print(body)


if __name__ == "__main__":
    main()
