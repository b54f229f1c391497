"""The local web server of ``gridplan edit``: the page and a small JSON API over one session.

Built on the standard library (:class:`http.server.ThreadingHTTPServer`), not a web framework:
the editor is a local, single-user tool (one planner, one browser tab, bound to 127.0.0.1), so
it needs no async workers, routing library or new dependency to install on an office machine.
Requests are served one at a time against the session (a lock), which keeps the edits in
order. The page is a static HTML and JavaScript asset with Leaflet inlined from
``gridplan/_vendor``: it works offline except for the basemap tiles.

API (JSON in and out; POST bodies must be ``application/json``, which a page of another site
cannot send without the server's consent):

- ``GET /`` the page; ``GET /api/buildings`` the footprints and ``GET /api/base`` the
  original grids (both never change: sent once, gzipped); ``GET /api/state`` the session,
  leaving out what the original plan had (:meth:`EditSession.snapshot` with ``delta``);
- ``POST /api/move`` ``{buildings, grid_id, accept, reason, by}``; ``/api/merge``
  ``{grid_id, other, accept, reason, by}``; ``/api/split`` ``{buildings, accept, reason, by}``;
  ``/api/lock`` ``{grid_id, locked}``; ``/api/reoptimise`` ``{by}``; ``/api/undo``; ``/api/redo``;
  ``/api/save`` ``{out, overwrite}``.

Errors answer 400 with ``{"error": message}``; a move that breaks a hard rule answers 409 with
the violations, and changes nothing until it is sent again with ``accept`` and a reason.
"""

from __future__ import annotations

import gzip
import json
import logging
import signal
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any

from gridplan._errors import GridplanError
from gridplan.edit.session import EditSession, HardRuleError
from gridplan.i18n import labels_in
from gridplan.privacy import mask_text

__all__ = ["EditServer", "page_html", "serve"]

logger = logging.getLogger(__name__)

#: Largest request body accepted (a selection of many buildings fits easily).
MAX_BODY = 4 * 1024 * 1024
#: Answers larger than this many bytes are gzipped for a browser that accepts it (a city's
#: buildings are 2 MB of GeoJSON; a quick level keeps the compression in milliseconds).
GZIP_FROM = 16 * 1024
GZIP_LEVEL = 3


def _asset(package: str, name: str) -> str:
    return resources.files(package).joinpath(name).read_text(encoding="utf-8")


def page_html(session: EditSession) -> str:
    """The edit page with Leaflet, its script, the labels and the save folder filled in."""
    html = _asset("gridplan.edit.static", "edit.html")
    fills = {
        "{{LANG}}": session.lang,
        "{{TITLE}}": labels_in("edit", session.lang)["title"],
        "{{LEAFLET_CSS}}": _asset("gridplan._vendor", "leaflet.css"),
        "{{LEAFLET_JS}}": _asset("gridplan._vendor", "leaflet.js").replace(
            "</script", "<\\/script"
        ),
        "{{EDIT_JS}}": _asset("gridplan.edit.static", "edit.js"),
        "{{CONFIG}}": json.dumps(
            {
                "labels": labels_in("edit", session.lang),
                "out": session.suggested_out(),
                "plan": str(session.plan_dir),
            },
            ensure_ascii=False,
        ).replace("</", "<\\/"),
    }
    for key, value in fills.items():
        html = html.replace(key, value)
    return html


class EditServer(ThreadingHTTPServer):
    """A :class:`ThreadingHTTPServer` over one :class:`EditSession`."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], session: EditSession) -> None:
        super().__init__(address, _Handler)
        self.session = session
        self.lock = threading.Lock()
        self.fixed: dict[str, tuple[bytes, bytes]] = {}  # path -> (JSON, gzipped JSON)

    def fixed_answer(self, path: str) -> tuple[bytes, bytes]:
        """The answer of ``/api/buildings`` or ``/api/base`` (JSON, gzipped JSON), encoded
        the first time it is asked for."""
        if path not in self.fixed:
            s = self.session
            data = s.buildings_geojson() if path == "/api/buildings" else s.base_web()
            raw = json.dumps(data, ensure_ascii=False).encode("utf-8")
            self.fixed[path] = (raw, gzip.compress(raw, GZIP_LEVEL))
        return self.fixed[path]

    def warm(self) -> None:
        """Encode the answers that never change before the page asks (a city's buildings
        take a second), and colour the grids once."""
        for path in ("/api/buildings", "/api/base"):
            self.fixed_answer(path)
        self.session.snapshot(delta=True)  # (the grid colours are kept until a change)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}/"


class _Handler(BaseHTTPRequestHandler):
    server: EditServer

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), mask_text(format % args))

    def _send(self, status: int, body: bytes, ctype: str, *, gzipped: bytes | None = None) -> None:
        accepts = "gzip" in self.headers.get("Accept-Encoding", "")
        if accepts and (gzipped is not None or len(body) > GZIP_FROM):
            body = gzipped if gzipped is not None else gzip.compress(body, GZIP_LEVEL)
            self.send_response(status)
            self.send_header("Content-Encoding", "gzip")
        else:
            self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any) -> None:
        body = json.dumps(data, ensure_ascii=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8")

    def do_GET(self) -> None:
        s = self.server.session
        path = self.path.split("?", 1)[0]
        with self.server.lock:
            if path in ("/", "/index.html"):
                self._send(200, page_html(s).encode("utf-8"), "text/html; charset=utf-8")
            elif path == "/api/state":
                self._json(200, s.snapshot(delta=True))
            elif path in ("/api/buildings", "/api/base"):  # they never change: encoded once
                raw, packed = self.server.fixed_answer(path)
                self._send(200, raw, "application/json; charset=utf-8", gzipped=packed)
            else:
                self._json(404, {"error": f"no such page: {path}"})

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        if not self.headers.get("Content-Type", "").startswith("application/json"):
            self._json(415, {"error": "send JSON (Content-Type: application/json)"})
            return
        size = int(self.headers.get("Content-Length") or 0)
        if size > MAX_BODY:
            self._json(413, {"error": "request too large"})
            return
        try:
            body = json.loads(self.rfile.read(size) or b"{}")
        except ValueError:
            self._json(400, {"error": "the request is not JSON"})
            return
        action = _ACTIONS.get(path)
        if action is None:
            self._json(404, {"error": f"no such action: {path}"})
            return
        s = self.server.session
        with self.server.lock:
            try:
                extra = action(s, body) or {}
            except HardRuleError as exc:
                self._json(
                    409,
                    {"error": mask_text(str(exc)), "violations": exc.violations, "hard": True},
                )
                return
            except GridplanError as exc:
                self._json(400, {"error": mask_text(str(exc))})
                return
            self._json(200, {"ok": True, **extra, "state": s.snapshot(delta=True)})


def _move(s: EditSession, body: dict[str, Any]) -> dict[str, Any]:
    checks = s.move(
        [str(b) for b in body.get("buildings") or []],
        str(body.get("grid_id", "")),
        accept=bool(body.get("accept")),
        reason=body.get("reason"),
        by=body.get("by"),
    )
    return {"touched": sorted(checks)}


def _merge(s: EditSession, body: dict[str, Any]) -> dict[str, Any]:
    checks = s.merge(
        str(body.get("grid_id", "")),
        str(body.get("other", "")),
        accept=bool(body.get("accept")),
        reason=body.get("reason"),
        by=body.get("by"),
    )
    return {"touched": sorted(checks)}


def _split(s: EditSession, body: dict[str, Any]) -> dict[str, Any]:
    checks = s.split(
        [str(b) for b in body.get("buildings") or []],
        accept=bool(body.get("accept")),
        reason=body.get("reason"),
        by=body.get("by"),
    )
    return {"touched": sorted(checks)}


def _reoptimise(s: EditSession, body: dict[str, Any]) -> dict[str, Any]:
    return {"reoptimised": s.reoptimise(by=body.get("by")), "touched": list(s.last)}


def _lock(s: EditSession, body: dict[str, Any]) -> None:
    s.set_lock(str(body.get("grid_id", "")), bool(body.get("locked", True)))


def _save(s: EditSession, body: dict[str, Any]) -> dict[str, Any]:
    out = str(body.get("out") or "").strip()
    if not out:
        from gridplan._errors import DataError

        msg = "save: give the folder to save to"
        raise DataError(msg)
    return {"saved": str(s.save(out, overwrite=bool(body.get("overwrite"))))}


_ACTIONS: dict[str, Callable[[EditSession, dict[str, Any]], dict[str, Any] | None]] = {
    "/api/move": _move,
    "/api/lock": _lock,
    "/api/merge": _merge,
    "/api/split": _split,
    "/api/reoptimise": _reoptimise,
    "/api/undo": lambda s, _b: s.undo(),
    "/api/redo": lambda s, _b: s.redo(),
    "/api/save": _save,
}


def serve(
    session: EditSession,
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve ``session`` until interrupted (Ctrl-C, or SIGTERM), then release the plan's lock.

    Parameters
    ----------
    session
        The editing session.
    host, port
        Where to listen; port 0 picks a free one.
    ready
        Called with the page's URL once the server listens.
    """
    server = EditServer((host, port), session)
    previous = None
    if threading.current_thread() is threading.main_thread():  # a kill stops it as Ctrl-C does
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.warm()
        if ready is not None:
            ready(server.url)
        server.serve_forever()
    except KeyboardInterrupt:
        logger.info("stopped")
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        server.server_close()
        session.close()


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt
