"""Real local servers that take the console's notifications in tests: a webhook receiver (HTTP) and a minimal
SMTP server, each recording what it received."""

from __future__ import annotations

import json
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver:
    """A real HTTP server taking webhook POSTs: their JSON bodies, answering `status`."""

    def __init__(self, status: int = 200):
        self.bodies: list[dict] = []
        self.status = status
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.bodies.append(json.loads(body))
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/T000/B000/secret"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class SMTPServer:
    """A minimal SMTP server (no STARTTLS, no login): the messages it accepted, as (recipients, data)."""

    def __init__(self):
        self.messages: list[tuple[list[str], str]] = []
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                def say(line: str):
                    self.wfile.write(line.encode() + b"\r\n")

                say("220 localhost test SMTP")
                rcpts: list[str] = []
                while line := self.rfile.readline():
                    cmd = line.decode().strip()
                    verb = cmd.split(" ")[0].upper()
                    if verb in ("EHLO", "HELO"):
                        say("250 localhost")
                    elif verb == "MAIL":
                        rcpts = []
                        say("250 OK")
                    elif verb == "RCPT":
                        rcpts.append(cmd.split(":", 1)[1].strip("<> "))
                        say("250 OK")
                    elif verb == "DATA":
                        say("354 go on")
                        data = []
                        while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                            data.append(chunk.decode())
                        outer.messages.append((rcpts, "".join(data)))
                        say("250 queued")
                    elif verb == "QUIT":
                        say("221 bye")
                        return
                    else:
                        say("250 OK")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
