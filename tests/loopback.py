"""Real processes and a real POS on loopback, for the end-to-end tests."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

import requests
from standardwebhooks import Webhook

from tests.wix_contract import answer_refusals, call_for, refusals, refused

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(condition: Callable[[], bool], timeout: float = 20.0, what: str = "condition"):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class _JsonHandler(BaseHTTPRequestHandler):
    def answer(self, status: int, body: dict) -> None:
        self.send(status, json.dumps(body).encode(), "application/json")

    def send(self, status: int, raw: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, *args):
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """A client that gave up waiting (its timeout) is part of what these servers play."""
        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """Serve on a free loopback port in a daemon thread; the server and its base URL."""
    server = _Server(("127.0.0.1", 0), handler)
    # serve_forever looks for shutdown every poll interval: its default (0.5 s) was half a
    # second of every test's teardown for each server.
    threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class PosServer:
    """A POS speaking the `webhook` protocol: verifies signatures, dedupes by webhook-id as a
    Standard Webhooks consumer should, and records every delivery it receives."""

    def __init__(self, secret: str):
        self.secret = secret
        self.verifier = Webhook(secret)
        self.deliveries: list[dict] = []      # every request, in arrival order
        self.accepted: dict[str, str] = {}    # webhook-id -> POS order id
        self.lock = threading.Lock()
        self.hold: Callable[[dict], None] | None = None  # called before answering
        self.menu: dict = {}                  # what it answers a menu request with
        self.refuse: str | None = None        # an error code it answers orders with, if set
        self.kitchen: dict[str, str] = {}     # POS order id -> status, for status questions
        pos = self

        class Handler(_JsonHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    message = pos.verifier.verify(body, headers)
                except Exception:
                    self.answer(401, {"error": {"code": "pos_error", "description": "signature"}})
                    return
                delivery = {"id": headers["webhook-id"], "message": message,
                            "at": time.monotonic()}
                with pos.lock:
                    pos.deliveries.append(delivery)
                if pos.hold:
                    pos.hold(delivery)
                if "menu" in message:
                    self.answer(200, {"value": {"menu": pos.menu}})
                    return
                if "statuses" in message:
                    self.answer(200, {"value": {"orders": [
                        {"orderId": i, "status": pos.kitchen[i]}
                        for i in message["statuses"]["orderIds"] if i in pos.kitchen]}})
                    return
                if pos.refuse:
                    self.answer(422, {"error": {"code": pos.refuse,
                                                "description": "item 'dish-9' is not on the menu"}})
                    return
                with pos.lock:
                    order_id = pos.accepted.setdefault(delivery["id"],
                                                       f"P{len(pos.accepted) + 1}")
                self.answer(200, {"value": {"orderId": order_id}})

        self.server, base = _serve(Handler)
        self.url = f"{base}/orders"

    def send_status(self, bridge_url: str, pos_order_id: str, status: str) -> requests.Response:
        """Call the bridge back as this POS would when the kitchen moves an order along."""
        from tests.builders import signed_callback
        body, headers = signed_callback({"orderId": pos_order_id, "status": status},
                                        secret=self.secret)
        return requests.post(f"{bridge_url}/pos/webhook/events", data=body, headers=headers,
                             timeout=5)

    def orders(self) -> list[dict]:
        with self.lock:
            return [d["message"]["order"] for d in self.deliveries if "order" in d["message"]]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def bridge_process(args: list[str], env: dict[str, str], cwd: Path, log: Path) -> subprocess.Popen:
    """Run `bridge ...` as its own process, as an operator would, logging to a file."""
    full_env = {k: v for k, v in os.environ.items()
                if not k.startswith(("WIX_", "POS_", "BRIDGE_", "DATABASE_URL", "PORT"))}
    full_env.update(env)
    return subprocess.Popen([sys.executable, "-m", "bridge", *args], cwd=cwd, env=full_env,
                            stdout=log.open("ab"), stderr=subprocess.STDOUT)


def wait_for_health(port: int, process: subprocess.Popen, log: Path) -> None:
    def up() -> bool:
        if process.poll() is not None:
            raise AssertionError(f"bridge exited early:\n{log.read_text()}")
        try:
            return requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
        except requests.RequestException:
            return False
    wait_until(up, 30, "the bridge to answer /healthz")


CONNECTIVITY = "/restaurants/v1/pos-integration"


def own_shape(described, status: int, answer: dict, breaches: list[str]) -> tuple[int, dict]:
    """The stand-in's own answer, held to the call's published response type: one it would
    answer wrongly is a 500, and recorded in `breaches` (the `wix` fixture fails a test that
    leaves any), so no test passes on a shape Wix never sends."""
    if described is not None and status == 200:
        wrong = answer_refusals(described[0], described[2], answer)
        if wrong:
            breaches.append(f"{described[0]}: {wrong}")
            return 500, {"message": f"the stand-in's answer breaks the contract: {wrong}"}
    return status, answer


class WixServer:
    """Stands in for Wix's REST API: hands out tokens, lists the fulfillments the test gave it,
    and records every request, in order. Strict: a request to a call of Wix's published
    definitions (contract/wix.json) that they do not allow is refused, 400, as Wix does."""

    def __init__(self, *, tokens_per_site: bool = False):
        self.requests: list[dict] = []
        self.breaches: list[str] = []    # its own answers that broke the contract (a test bug)
        self.fulfillments: dict[str, list[dict]] = {}
        self.configurations: dict[str, list[dict]] = {}  # site -> its POS configurations
        self.orders: dict[str, dict] = {}                 # orders created through the API,
        #                                                   or put there by a test (searched)
        self.searches = 0                                 # Search Orders calls by updatedDate
        self.order_settings: dict[str, dict] = {}         # the settings each was created with
        self.operations: list[dict] = []                  # Restaurants operations
        self.order_faults: list[str] = []                 # "lose": create, then answer 504
        self.fulfillment_faults: list[str] = []           # each: one create-fulfillment 503
        self.connectivity_refusal: str | None = None       # set: the POS Connectivity API 403s
        self.on_order_created: Callable[[dict], None] | None = None
        from tests.wix_menus import FakeMenus
        self.menus = FakeMenus()
        self.lock = threading.Lock()
        self.hold: Callable[[dict], None] | None = None  # called before answering
        wix = self

        class Handler(_JsonHandler):
            def _handle(self):
                length = int(self.headers.get("content-length", 0) or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                request = {"method": self.command, "path": self.path, "body": body,
                           "authorization": self.headers.get("Authorization"),
                           "at": time.monotonic()}
                with wix.lock:
                    wix.requests.append(request)
                if wix.hold:
                    wix.hold(request)
                described = call_for(self.command, self.path.split("?", 1)[0])
                problems = refusals(described[0], described[2], body or {}) if described else []
                if problems:  # as Wix refuses a request its definitions do not allow
                    self.answer(400, refused(problems))
                    return
                menus = wix.menus.handle(self.command, self.path, body)
                if menus is not None:
                    self.answer(*own_shape(described, *menus, wix.breaches))
                    return
                if self.path.startswith(CONNECTIVITY) and wix.connectivity_refusal:
                    self.answer(403, {"message": wix.connectivity_refusal})
                    return
                if self.path == "/oauth2/token":
                    site = body.get("instance_id") if tokens_per_site else "local"
                    answer = {"access_token": f"OAUTH2.{site}", "expires_in": 14400}
                elif self.command == "POST" and self.path == "/ecom/v1/orders":
                    order = wix.create_order(body)
                    if wix.order_faults and wix.order_faults.pop(0) == "lose":
                        self.answer(504, {"message": "timed out"})
                        return
                    answer = {"order": order}
                elif self.path == "/ecom/v1/orders/search":
                    answer = wix.search_orders(body["search"])
                elif self.path == "/restaurants-operations/v1/operations":
                    answer = {"operations": wix.operations}
                elif self.path.startswith(CONNECTIVITY):
                    answer = wix.connectivity(self.command, self.path[len(CONNECTIVITY):],
                                              self.headers.get("Authorization", ""))
                elif self.command == "GET" and self.path.startswith("/ecom/v1/fulfillments/orders/"):
                    order_id = self.path.rsplit("/", 1)[1]
                    answer = {"orderWithFulfillments": {
                        "orderId": order_id, "fulfillments": wix.fulfillments.get(order_id, [])}}
                elif self.path.endswith("/create-fulfillment") and wix.fulfillment_faults:
                    wix.fulfillment_faults.pop(0)
                    self.answer(503, {"message": "unavailable"})
                    return
                elif self.path.endswith("/create-fulfillment"):
                    order_id = self.path.split("/")[-2]
                    with wix.lock:
                        made = wix.fulfillments.setdefault(order_id, [])
                        made.append({**(body or {}).get("fulfillment", {}),
                                     "id": "f-created" if not made else f"f-created-{len(made)}"})
                    answer = {"fulfillmentId": made[-1]["id"], "orderWithFulfillments": {}}
                else:
                    answer = {"orderWithFulfillments": {}}
                self.answer(*own_shape(described, 200, answer, wix.breaches))

            do_GET = do_POST = do_PATCH = _handle

        self.server, self.url = _serve(Handler)

    def create_order(self, body: dict) -> dict:
        """As Wix does: ids for the order and its line items, a number, the creating app."""
        with self.lock:
            n = len(self.orders) + 1
            order = {**body["order"], "id": f"wix-import-{n}", "number": str(20000 + n),
                     "createdBy": {"appId": "app-id"}}
            self.order_settings[order["id"]] = body.get("settings")  # a request's, not the order's
            order["lineItems"] = [{**li, "id": f"li-{n}-{i}"}
                                  for i, li in enumerate(order.get("lineItems") or [])]
            self.orders[order["id"]] = order
        if self.on_order_created:
            self.on_order_created(order)
        return order

    def connectivity(self, method: str, path: str, authorization: str) -> dict:
        """The POS Connectivity API, for the site whose token called (tokens_per_site)."""
        site = authorization.removeprefix("OAUTH2.")
        listed = self.configurations.get(site, [])
        if method == "GET" and path == "/configurations":
            return {"configurations": listed}
        if method == "GET" and path.startswith("/configurations/"):
            wanted = path.rsplit("/", 1)[1]
            return {"configuration": next((c for c in listed if c["id"] == wanted), None)}
        return {}

    def calls(self, method: str) -> list[dict]:
        with self.lock:
            return [{k: v for k, v in r.items() if k != "at"} for r in self.requests
                    if r["method"] == method]

    def search_orders(self, search: dict) -> dict:
        """Search Orders as the bridge uses it: by external id, or by updatedDate (`$gte`),
        oldest change first, paged by cursor (a cursor carries the query, as Wix's does)."""
        wanted = (search.get("filter") or {}).get("channelInfo.externalOrderId")
        if wanted is not None:
            return {"orders": [o for o in self.orders.values()
                               if (o.get("channelInfo") or {}).get("externalOrderId")
                               == wanted["$eq"]]}
        paging = search.get("cursorPaging") or {}
        if paging.get("cursor"):
            since, offset = paging["cursor"].rsplit("|", 1)
        else:
            since, offset = search["filter"]["updatedDate"]["$gte"], "0"
        start, limit = int(offset), int(paging.get("limit") or 50)

        def at(value: str) -> float:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        with self.lock:
            matching = sorted((o for o in self.orders.values()
                               if at(o.get("updatedDate") or since) >= at(since)),
                              key=lambda o: at(o.get("updatedDate") or since))
        page, more = matching[start:start + limit], start + limit < len(matching)
        self.searches += 1
        return {"orders": page, "metadata": {
            "count": len(page), "hasNext": more,
            "cursors": {"next": f"{since}|{start + limit}"} if more else {}}}

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class SquareServer:
    """Stands in for Square: its OAuth (the authorize page, ObtainToken, RevokeToken) and the
    calls a connected account makes first (RetrieveMerchant, ListLocations). Every request, and
    every answer it gives, is checked against Square's published spec (contract/square.json):
    a request that breaks it is refused, 400, as Square refuses it; an answer that would is a
    test bug, kept in `breaches`."""

    APP_ID, APP_SECRET = "sq0idp-bridge-tests", "sq0csp-bridge-tests-secret"
    TOKEN_DAYS = 30

    def __init__(self, merchant: str = "MLX0SELLER01", location: str = "L-HARBOUR"):
        from tests import square_contract
        self.merchant, self.location = merchant, location
        self.requests: list[dict] = []
        self.breaches: list[str] = []
        self.codes: dict[str, str] = {}            # code -> redirect_uri it was given for
        self.access: dict[str, float] = {}         # live access token -> when it expires
        self.refresh_tokens: set[str] = set()
        self.revoked: list[str] = []
        self.clock = time.time
        square = self

        class Handler(_JsonHandler):
            def _handle(self):
                length = int(self.headers.get("content-length", 0) or 0)
                raw = self.rfile.read(length) if length else b""
                path, _, query = self.path.partition("?")
                square.requests.append({"method": self.command, "path": path, "query": query,
                                        "authorization": self.headers.get("Authorization"),
                                        "body": json.loads(raw) if raw else None})
                if path == "/oauth2/authorize":   # a page for a person, not an API call
                    self.send(200, square.authorize_page(query), "text/html; charset=utf-8")
                    return
                url = f"https://{square_contract.HOST}{self.path}"
                problems = square_contract.problems(self.command, url, dict(self.headers), raw)
                if problems:
                    self.answer(400, {"errors": [{"category": "INVALID_REQUEST_ERROR",
                                                  "code": "BAD_REQUEST",
                                                  "detail": "; ".join(problems)[:500]}]})
                    return
                status, answer = square.handle(self.command, path, self.headers,
                                               json.loads(raw) if raw else {})
                body = json.dumps(answer).encode()
                square.breaches += square_contract.problems(self.command, url, dict(self.headers),
                                                            raw, status, body)
                self.send(status, body, "application/json")

            do_GET = do_POST = _handle

        self.server, self.url = _serve(Handler)

    def authorize_page(self, query: str) -> bytes:
        from html import escape
        from urllib.parse import parse_qs, urlencode
        asked = {k: v[0] for k, v in parse_qs(query).items()}
        if asked.get("client_id") != self.APP_ID:
            return b"<p>Unknown application</p>"
        code = "sq0cgp-" + os.urandom(8).hex()
        self.codes[code] = asked.get("redirect_uri", "")
        back = asked.get("redirect_uri", "")
        allow = f"{back}?{urlencode({'code': code, 'state': asked.get('state', '')})}"
        deny = f"{back}?{urlencode({'error': 'access_denied', 'state': asked.get('state', '')})}"
        return (f"<!doctype html><title>Square</title><h1>Allow access?</h1>"
                f"<p>Scopes: {escape(asked.get('scope', ''))}</p>"
                f'<a id="allow" href="{escape(allow)}">Allow</a> '
                f'<a id="deny" href="{escape(deny)}">Deny</a>').encode()

    def handle(self, method: str, path: str, headers, body: dict) -> tuple[int, dict]:
        unauthorized = (401, {"errors": [{"category": "AUTHENTICATION_ERROR",
                                          "code": "UNAUTHORIZED"}]})
        if path == "/oauth2/token":
            if body.get("client_id") != self.APP_ID or body.get("client_secret") != \
                    self.APP_SECRET:
                return unauthorized
            if body.get("grant_type") == "authorization_code":
                if self.codes.pop(body.get("code", ""), None) != body.get("redirect_uri"):
                    return 401, {"errors": [{"category": "AUTHENTICATION_ERROR",
                                             "code": "UNAUTHORIZED", "detail": "bad code"}]}
                refresh = "EQAA" + os.urandom(12).hex()
                self.refresh_tokens.add(refresh)
            elif body.get("refresh_token") in self.refresh_tokens:
                refresh = body["refresh_token"]
            else:
                return unauthorized
            return 200, self._tokens(refresh)
        if path == "/oauth2/revoke":
            if headers.get("Authorization") != f"Client {self.APP_SECRET}":
                return unauthorized
            self.revoked.append(body.get("access_token", ""))
            self.access.clear()
            self.refresh_tokens.clear()
            return 200, {"success": True}
        token = (headers.get("Authorization") or "").removeprefix("Bearer ")
        if self.access.get(token, 0) <= self.clock():
            return unauthorized
        if path == "/v2/merchants/me":
            return 200, {"merchant": {"id": self.merchant, "business_name": "Harbour Street",
                                      "country": "US", "currency": "USD", "status": "ACTIVE",
                                      **({"main_location_id": self.location}
                                         if self.location else {})}}
        if path == "/v2/locations":
            return 200, {"locations": [{"id": self.location, "name": "Harbour Street",
                                        "status": "ACTIVE"}]}
        return 404, {"errors": [{"category": "INVALID_REQUEST_ERROR", "code": "NOT_FOUND"}]}

    def _tokens(self, refresh: str) -> dict:
        access = "EAAA" + os.urandom(16).hex()
        expires = self.clock() + self.TOKEN_DAYS * 86400
        self.access[access] = expires
        return {"access_token": access, "token_type": "bearer",
                "expires_at": datetime.fromtimestamp(int(expires), timezone.utc)
                .strftime("%Y-%m-%dT%H:%M:%SZ"),
                "merchant_id": self.merchant, "refresh_token": refresh}

    def calls(self, path: str) -> list[dict]:
        return [r for r in self.requests if r["path"] == path]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class FramingPage:
    """A page on another origin (localhost, where the bridge is 127.0.0.1) that shows `src` in
    an iframe, as Wix's site dashboard shows an app's dashboard page."""

    def __init__(self, height: int = 900):
        page = self
        self.src = ""

        class Handler(_JsonHandler):
            def do_GET(self):
                self.send(200, (
                    '<!doctype html><html><head><meta charset="utf-8"></head>'
                    '<body style="margin:0;font-family:sans-serif">'
                    '<div style="background:#162d3d;color:#fff;padding:12px 20px">'
                    'Wix · Site dashboard · POS orders</div>'
                    f'<iframe id="app" src="{page.src}" style="border:0;width:100%;height:{height}px">'
                    '</iframe></body></html>').encode(), "text/html; charset=utf-8")

        self.server, base = _serve(Handler)
        self.url = base.replace("127.0.0.1", "localhost") + "/"
        self.origin = self.url.rstrip("/")

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class TcpProxy:
    """A loopback TCP proxy in front of a real server, whose wire the test can cut and mend:
    `cut()` drops every open connection and refuses new ones, as a database restarting would."""

    def __init__(self, target_host: str, target_port: int):
        self.target = (target_host, target_port)
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.open = threading.Event()
        self.open.set()
        self.lock = threading.Lock()
        self.sockets: list[socket.socket] = []
        self.closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open.is_set():
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.sockets += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def cut(self) -> None:
        self.open.clear()
        with self.lock:
            dropped, self.sockets = self.sockets, []
        for s in dropped:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def mend(self) -> None:
        self.open.set()

    def close(self) -> None:
        self.closed = True
        self.cut()
        self.listener.close()
