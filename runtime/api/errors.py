"""Error bodies as the OpenAPI schema documents them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

_DESCRIPTIONS = {
    400: "Malformed: a body that is not parseable JSON (bad UTF-8, too deep, too long a number), or a bad path",
    401: "Not logged in",
    403: "Refused: a request from another site",
    404: "Not found",
    409: "Conflicts with what is running (or, for an upload, with its state)",
    410: "Expired; start again",
    413: "Over the size limit",
    422: "The request's fields are not valid",
    428: "Name the version the change starts from (If-Match)",
    429: "Too many requests; wait and try again",
    503: "Blu is stopping or busy",
}


class FieldError(BaseModel):
    """One refused field of a 422: where (`loc`), why (`msg`, `type`); never the value that was sent."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorBody(BaseModel):
    """A refusal: a sentence a person can read, or (422) the fields that were refused."""

    detail: str | list[FieldError]


def error_responses(*codes: int, meanings: Mapping[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """The route's refusals as OpenAPI responses; `meanings` gives codes whose meaning on this route is its own
    (a route's answer replaces the app-wide one of the same code)."""
    described = {code: _DESCRIPTIONS[code] for code in codes} | dict(meanings or {})
    return {code: {"model": ErrorBody, "description": text} for code, text in described.items()}


# Answered by the middleware or the framework on every API route (400: the framework's "There was an error
# parsing the body" for JSON it cannot decode).
ERROR_RESPONSES = error_responses(400, 401, 403, 413, 422)
