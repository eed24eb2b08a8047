"""The browser desk: `GET /`, the API reference at `GET /docs`, and the files they load, served by the
app itself (no separate server).

Every file served is named in a table built here; a request picks an entry by name and never
builds a path from what it was sent. The desk's own code lives in `ui/src`; the libraries come
from the npm registry into `ui/node_modules` (`make run` / `make test` run `npm ci` on the
lockfile), so they are never committed.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, send_file

from views.envelope import ApiError

blueprint = Blueprint("ui", __name__)
UI_DIR = Path(__file__).resolve().parents[1] / "ui"
SOURCE = UI_DIR / "src"
MODULES = UI_DIR / "node_modules"
CONTENT_TYPES = {".html": "text/html", ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
# name in the URL -> file under ui/node_modules, as the lockfile installs it
VENDOR = {
    "socket.io.min.js": "socket.io-client/dist/socket.io.min.js",
    "lightweight-charts.js": "lightweight-charts/dist/lightweight-charts.standalone.production.js",
    "codemirror.js": "codemirror/lib/codemirror.js",
    "codemirror.css": "codemirror/lib/codemirror.css",
    "python.js": "codemirror/mode/python/python.js",
    "lint.js": "codemirror/addon/lint/lint.js",
    "lint.css": "codemirror/addon/lint/lint.css",
}
# ... and those of the API reference (/docs): Swagger UI renders /openapi.json
DOCS_VENDOR = {
    "swagger-ui-bundle.js": "swagger-ui-dist/swagger-ui-bundle.js",
    "swagger-ui.css": "swagger-ui-dist/swagger-ui.css",
}
MISSING_LIBRARIES = "the desk's JavaScript libraries are not installed: run `make run` (or `cd ui && npm ci`)"


def _own_files() -> dict[str, Path]:
    """The desk's files by name: only files of a known type, directly in ui/src."""
    return {path.name: path for path in SOURCE.iterdir() if path.suffix in CONTENT_TYPES and path.is_file()}


OWN = _own_files()


def _send(path: Path) -> Response:
    # no-cache: the browser revalidates (cheap 304s) so a new release is never mixed with old files
    response = send_file(path, mimetype=CONTENT_TYPES[path.suffix], max_age=0, conditional=True)
    response.headers["Cache-Control"] = "no-cache"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# The pages run only their own and the served libraries' scripts; they talk only to this server:
# connect-src 'self' covers the REST calls and the Socket.IO websocket (ws: / wss: to the same host).
DESK_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
               "connect-src 'self'; frame-ancestors 'none'")
# The reference needs no inline style: the desk's policy less 'unsafe-inline' (Swagger UI styles through
# its stylesheet and the DOM's style properties, which the policy does not govern).
DOCS_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "connect-src 'self'; frame-ancestors 'none'")


@blueprint.get("/")
def index() -> Response:
    response = _send(OWN["index.html"])
    response.headers["Content-Security-Policy"] = DESK_POLICY
    return response


@blueprint.get("/docs")
def api_reference() -> Response:
    """The API reference: /openapi.json rendered, and the Socket.IO events of /asyncapi.json. Public like
    the documents it shows; every URL in it is relative, so it works under a path prefix too."""
    response = _send(OWN["docs.html"])
    response.headers["Content-Security-Policy"] = DOCS_POLICY
    return response


@blueprint.get("/ui/<name>")
def own_file(name: str) -> Response:
    path = OWN.get(name)
    if path is None:
        raise ApiError(f"no desk file named {name!r}", 404)
    return _send(path)


@blueprint.get("/vendor/<name>")
def library(name: str) -> Response:
    relative = VENDOR.get(name) or DOCS_VENDOR.get(name)
    if relative is None:
        raise ApiError(f"no library named {name!r}", 404)
    path = MODULES / relative
    if not path.is_file():
        raise ApiError(MISSING_LIBRARIES, 503)
    return _send(path)
