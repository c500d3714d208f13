"""A stand-in for the Hugging Face Hub on 127.0.0.1, serving local folders as model repos through the HTTP
endpoints huggingface_hub's downloads use (file HEAD/GET under /resolve/, the repo tree and revision APIs).
Unknown repos and files get the Hub's 404 answers (X-Error-Code RepoNotFound / EntryNotFound), so the
client's own error mapping runs. Every request path is logged, so a test can see exactly what was fetched.
Start with `FakeHub({"org/name": folder})` as a context manager; point a subprocess at it with
HF_ENDPOINT=hub.url (huggingface_hub reads the endpoint when it is imported)."""
from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "a" * 40


class FakeHub:
    def __init__(self, repos: dict[str, Path]):
        self.repos = {k: Path(v) for k, v in repos.items()}
        self.requests: list[tuple[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeHub:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fetched(self) -> list[str]:
        """Paths of files whose bytes were sent (GET under /resolve/)."""
        return [p.split("/resolve/", 1)[1].split("/", 1)[1] for m, p in self.requests
                if m == "GET" and "/resolve/" in p]

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet test output
                pass

            def do_HEAD(self):
                self._serve(body=False)

            def do_GET(self):
                self._serve(body=True)

            def _serve(self, body: bool):
                path = unquote(urlparse(self.path).path)
                hub.requests.append((self.command, path))
                parts = path.strip("/").split("/")
                if parts[:2] == ["api", "models"]:
                    return self._api(parts[2:], body)
                if len(parts) >= 5 and parts[2] == "resolve":
                    return self._file("/".join(parts[:2]), "/".join(parts[4:]), body)
                self._error(404, "RepoNotFound", body)

            def _api(self, rest: list[str], body: bool):
                repo = "/".join(rest[:2])
                folder = hub.repos.get(repo)
                if folder is None:
                    return self._error(404, "RepoNotFound", body)
                files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
                if len(rest) >= 3 and rest[2] == "tree":
                    payload = [{"type": "file", "path": f, "size": (folder / f).stat().st_size,
                                "oid": hashlib.sha1((folder / f).read_bytes()).hexdigest()} for f in files]
                else:  # model info (revision)
                    payload = {"id": repo, "modelId": repo, "sha": COMMIT, "private": False,
                               "siblings": [{"rfilename": f} for f in files]}
                self._json(payload, body)

            def _file(self, repo: str, name: str, body: bool):
                folder = hub.repos.get(repo)
                if folder is None:
                    return self._error(404, "RepoNotFound", body)
                path = folder / name
                if not path.is_file():
                    return self._error(404, "EntryNotFound", body)
                data = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("ETag", '"' + hashlib.sha256(data).hexdigest() + '"')
                self.send_header("X-Repo-Commit", COMMIT)
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def _json(self, payload, body: bool):
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def _error(self, status: int, code: str, body: bool):
                data = json.dumps({"error": code}).encode()
                self.send_response(status)
                self.send_header("X-Error-Code", code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if body:
                    self.wfile.write(data)

        return Handler
