"""What Fibery's failures mean, in one line each: the transport that tells an error body from
a GraphQL result, and the messages a ``FiberyError`` carries (token, space, rate limit,
timeouts, broken connections, a space with no readable database)."""

from __future__ import annotations

from typing import Any

import httpx
from gql.transport.exceptions import TransportServerError
from gql.transport.httpx import HTTPXAsyncTransport

from ..config import Connection

WORKSPACE_RATE = 7
"""Requests per second Fibery allows a whole workspace, shared with every integration."""


class GraphQLTransport(HTTPXAsyncTransport):
    """gql's httpx transport, except that an error status whose body is not a GraphQL error
    (Fibery's 500s are ``{name, message, data}``) is an HTTP error, not an empty result."""

    def _prepare_result(self, response: httpx.Response) -> Any:
        if response.is_error:
            try:
                body = response.json()
            except ValueError:
                body = None
            if not (isinstance(body, dict) and body.get("errors")):
                self._raise_response_error(response, f"HTTP {response.status_code}")
        return super()._prepare_result(response)


def status_message(conn: Connection, retries: int, status: int | None, what: str, detail: str | None = None) -> str:
    """The line for an HTTP error status that retrying did not cure."""
    if status == 401:
        return f"Fibery rejected the token (401 Unauthorized) at {conn.fibery_url}: check FIBERY_TOKEN"
    if status == 404:
        return f"space '{conn.space}' not found at {conn.fibery_url} (404): check FIBERY_SPACE and FIBERY_URL"
    if status == 429:
        return (
            f"Fibery kept rate-limiting (429) after {retries} retries while {what}: the limit is "
            f"3 requests/s per token and {WORKSPACE_RATE}/s for the whole workspace, shared with its other "
            "integrations; try again later"
        )
    reason = f": {detail}" if detail else ""
    return f"Fibery answered HTTP {status} while {what} (after {retries} retries){reason}"


def connection_message(conn: Connection, cause: BaseException | None, timeout: float, retries: int) -> str:
    """The line for a request that got no (whole) answer: a timeout, a broken-off answer, or
    a host that cannot be reached."""
    url = conn.fibery_url
    if isinstance(cause, httpx.TimeoutException):
        return f"Fibery at {url} did not answer within {timeout:g} s (tried {retries + 1} times; kb.toml timeout)"
    if isinstance(cause, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        reason = str(cause).split("] ")[-1] or "the connection was closed"
        return f"Fibery at {url} broke off its answer (after {retries + 1} tries): {reason}"
    reason = (str(cause).split("] ")[-1] if cause else "") or (type(cause).__name__ if cause else "unknown error")
    return f"cannot reach Fibery at {url}: {reason}"


def no_databases_message(conn: Connection) -> str:
    """The line for a schema with no database: a misspelt or forbidden space (Fibery then
    serves a schema holding only ``me``)."""
    return (
        f"space '{conn.space}' at {conn.fibery_url} has no database this token can read: check FIBERY_SPACE "
        f"(the space's name as Fibery shows it; its endpoint is {conn.endpoint}, spaces in the name become _), "
        f"and list the spaces at {conn.fibery_url}/api/graphql"
    )


def server_message(exc: TransportServerError) -> str | None:
    """The ``message`` of a JSON error body (Fibery's 500s are ``{name, message, data}``)."""
    response = getattr(exc.__cause__, "response", None)
    try:
        body = response.json() if response is not None else None
    except ValueError:
        return None
    message = body.get("message") if isinstance(body, dict) else None
    return str(message)[:300] if message else None
