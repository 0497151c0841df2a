"""Every error answer is JSON: `{"error": {"code": "<snake_case>", "message": "<human text>"}}`."""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.http import HTTP_STATUS_CODES

from bridge import logs
from bridge.storage.port import StoreUnavailable

log = logging.getLogger(__name__)


def request_body(limit: int) -> bytes:
    """The request's body, at most `limit` bytes, else 413. Werkzeug enforces the limit on a
    body with a Content-Length, but cuts a chunked one short without a word."""
    if request.content_length is not None:
        return request.get_data(cache=False)
    data = request.environ["wsgi.input"].read(limit + 1)
    if len(data) > limit:
        raise RequestEntityTooLarge()
    return data


@dataclass(frozen=True)
class ErrorAnswer:
    """An error answer, whoever writes it out: Flask (`response`) or the event loop (`document`)."""
    status: int
    code: str
    message: str

    def response(self):
        return error_response(self.status, self.code, self.message)

    def document(self) -> bytes:
        """Written as Flask writes `response`'s (compact), whichever wrote it."""
        return json.dumps({"error": {"code": self.code, "message": self.message}},
                          separators=(",", ":")).encode()


def error_response(status: int, code: str, message: str):
    response = jsonify({"error": {"code": code, "message": message}})
    response.status_code = status
    return response


def database_unavailable(error: StoreUnavailable) -> ErrorAnswer:
    # Nothing was answered 200, so nothing is lost: Wix and the POSes send it again.
    logs.error(log, "database_unavailable", reason=str(error))
    return ErrorAnswer(503, "database_unavailable",
                       "the database does not answer; try again shortly")


def unexpected_error(error: Exception) -> ErrorAnswer:
    """A bug: logged with its traceback, answered without it."""
    log.exception("%s", logs.fields("unhandled_error", error=type(error).__name__))
    return ErrorAnswer(500, "internal_error", "the bridge failed to handle this request")


def error_code(status: int) -> str:
    """The `code` of an HTTP error answer: its standard name in snake_case (Werkzeug's names,
    as Flask's own errors have them), e.g. 414 -> request_uri_too_long."""
    if status == 413:
        return "payload_too_large"
    return HTTP_STATUS_CODES.get(status, "error").lower().replace(" ", "_").replace("-", "_")


def error_document(status: int, message: str) -> bytes:
    """The body of an error answer written outside Flask (the web server's own answers)."""
    return ErrorAnswer(status, error_code(status), message).document()


def register(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException):
        code = error_code(error.code or 500)
        logs.warning(log, "http_error", status=error.code, code=code)
        return error_response(error.code or 500, code, error.description or error.name)

    @app.errorhandler(StoreUnavailable)
    def store_unavailable(error: StoreUnavailable):
        return database_unavailable(error).response()

    @app.errorhandler(Exception)
    def unexpected(error: Exception):
        return unexpected_error(error).response()
