"""Light servers for the send benchmarks, each run in its own process, and a child-process
timer: an SMTP sink that accepts without parsing, and a Mailgun-style HTTP endpoint.

On a 2-core machine the sink must cost little, or it measures itself instead of ``mailer``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import tempfile
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path


class SmtpSink(asyncio.Protocol):
    """Just enough SMTP to accept mail; a message is counted, never parsed.

    It offers PIPELINING and CHUNKING, as Postfix, Exim and the big providers do: commands are
    answered in order however many arrive at once, and a ``BDAT`` chunk is skipped by its size.
    Plain ``DATA`` works too, scanning for the terminating ``CRLF . CRLF`` only.
    """

    accepted = 0
    extensions = b"250-PIPELINING\r\n250-CHUNKING\r\n"  # empty: a server without either

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.buffer = b""
        self.need = 0  # BDAT bytes still to skip
        self.in_data = False
        self.transport.write(b"220 sink ESMTP\r\n")

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while self.buffer:
            if self.need:
                skipped = min(self.need, len(self.buffer))
                self.buffer = self.buffer[skipped:]
                self.need -= skipped
                if not self.need:
                    self._accept()
            elif self.in_data:
                end = self.buffer.find(b"\r\n.\r\n")
                if end < 0:
                    self.buffer = self.buffer[-4:]
                    return
                self.buffer = self.buffer[end + 5:]
                self.in_data = False
                self._accept()
            elif b"\r\n" in self.buffer:
                line, self.buffer = self.buffer.split(b"\r\n", 1)
                self._command(line)
            else:
                return

    def _command(self, line: bytes) -> None:
        verb = line[:4].upper()
        if verb in (b"EHLO", b"HELO"):
            self.transport.write(b"250-sink\r\n" + self.extensions + b"250 8BITMIME\r\n")
        elif verb == b"BDAT":
            self.need = int(line.split()[1])
        elif verb == b"DATA":
            self.transport.write(b"354 go ahead\r\n")
            self.in_data = True
            self.buffer = b"\r\n" + self.buffer  # so that an empty message ends too
        elif verb == b"QUIT":
            self.transport.write(b"221 bye\r\n")
            self.transport.close()
        else:  # MAIL, RCPT, RSET, NOOP
            self.transport.write(b"250 ok\r\n")

    def _accept(self) -> None:
        SmtpSink.accepted += 1
        self.transport.write(b"250 ok queued\r\n")


def run_smtp_sink(port: int, plain: bool = False) -> None:
    if plain:
        SmtpSink.extensions = b""

    async def main() -> None:
        server = await asyncio.get_running_loop().create_server(SmtpSink, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


class MailgunLike(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        """The domain's record (``GET /v3/domains/DOMAIN``), which a send reads first to check
        the key."""
        self._answer(json.dumps({"domain": {"name": self.path.rpartition("/")[2],
                                            "state": "active"}}))

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        recipients = body.count(b'name="to"')
        self._answer(
            json.dumps({"id": f"<batch.{recipients}@bench>", "message": "Queued. Thank you."})
        )

    def _answer(self, answer: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, *args: object) -> None:
        pass


def run_http_sink(port: int) -> None:
    ThreadingHTTPServer(("127.0.0.1", port), MailgunLike).serve_forever()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int) -> None:
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


# Run by a fresh interpreter between a benchmark and the command it measures. On Linux a child
# reports at least its parent's peak memory: fork copies the parent's high-water mark with its
# address space, and exec records it as the child's. A benchmark that once held 130 MB (the
# sign-up bench's request bodies) so made every command it timed report 132 MB. The command,
# a child of this launcher, starts from the launcher's few MB; the launcher passes on its
# exit status and writes the command's own figures to the file named first.
_LAUNCHER = """
import json, os, subprocess, sys
process = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(process.pid, 0)
with open(sys.argv[1], "w") as report:
    json.dump({"cpu": usage.ru_utime + usage.ru_stime, "maxrss_kb": usage.ru_maxrss}, report)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def run_child(command: list[str], env: dict[str, str], cwd: Path | None = None) -> dict:
    """Run ``command`` (in the folder ``cwd``, by default this process's): wall time, and CPU
    seconds and peak RSS of that process alone (not its parent's: see ``_LAUNCHER``)."""
    started = time.monotonic()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err, \
            tempfile.NamedTemporaryFile("r", suffix=".json") as report:
        process = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, report.name, *command], env=env, cwd=cwd,
            stdout=out, stderr=err,
        )
        process.wait()
        wall = time.monotonic() - started
        out.seek(0)
        err.seek(0)
        text, errors = out.read().decode(), err.read().decode()
        usage = json.loads(report.read() or "{}")
    if process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed ({process.returncode}):\n{errors}")
    return {"wall": wall, "out": text, "cpu": usage["cpu"], "rss_mb": usage["maxrss_kb"] / 1024}
