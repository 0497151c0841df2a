"""`POST /spi/pos/<call>`: the POS Integration SPI Wix calls (`bridge.service.spi` answers).

An error answer carries the bridge's `error` object and, for Wix, the service plugin's
`applicationError {code, data: {errors: [{code, message, params}]}}` as the official SDK's
service-plugin module answers a business error, the codes UPPERCASE and `params` a map of
strings as Wix's generated types for this SPI have them: one body that both readers understand.
"""
from __future__ import annotations

import json
import logging

from flask import Blueprint, current_app, jsonify

from bridge import logs
from bridge.service.spi import PosIntegration, SpiError
from bridge.web.errors import error_response, request_body
from bridge.wix.spi import BadSignature, MalformedCall, NotAJwt, NotConfigured

log = logging.getLogger(__name__)
blueprint = Blueprint("spi", __name__)

CALLS = {
    "account-ids": PosIntegration.account_ids,
    "get-configuration-status": PosIntegration.configuration_status,
    "sync-catalog": PosIntegration.sync_catalog,
    "get-catalog-sync-status": PosIntegration.catalog_sync_status,
    "validate-order": PosIntegration.validate_order,
    "create-order": PosIntegration.create_order,
}


@blueprint.post("/spi/pos/<call>")
def answer(call: str):
    bridge = current_app.extensions["bridge"]
    if call not in CALLS:
        return error_response(404, "no_such_call", f"no SPI call {call!r}; the calls are "
                                                   f"{', '.join(CALLS)}")
    body = request_body(current_app.config["MAX_CONTENT_LENGTH"])
    try:
        spi_call = bridge.spi_verifier.call(body)
    except NotAJwt as error:
        logs.warning(log, "spi_refused", call=call, reason="not_a_jwt")
        return error_response(400, "not_a_jwt", str(error))
    except NotConfigured as error:
        logs.warning(log, "spi_refused", call=call, reason="spi_not_configured")
        return error_response(401, "spi_not_configured", str(error))
    except BadSignature as error:
        logs.warning(log, "spi_refused", call=call, reason="bad_token", detail=str(error))
        return error_response(401, "bad_token", "the SPI token does not verify: it must be "
                                                "signed RS256 with the app's key, issued by "
                                                "wix.com, for this app, and not expired")
    except MalformedCall as error:
        logs.warning(log, "spi_refused", call=call, reason="malformed_request", detail=str(error))
        return error_response(400, "malformed_request", str(error))
    try:
        return CALLS[call](bridge.spi, spi_call)
    except SpiError as error:
        logs.warning(log, "spi_error", call=call, instance_id=spi_call.instance_id,
                     code=error.code, status=error.status, detail=error.message)
        response = jsonify(error_body(error))
        response.status_code = error.status
        return response


def error_body(error: SpiError) -> dict:
    code = error.code.upper()
    params = {str(k): v if isinstance(v, str) else json.dumps(v)
              for k, v in error.params.items()}
    return {"error": {"code": error.code, "message": error.message},
            "applicationError": {"code": code, "data": {"errors": [
                {"code": code, "message": error.message, "params": params}]}}}
