"""The OpenAPI 3 document served at `/openapi.json`, built from the same limits the
handlers enforce so the two cannot drift apart."""

from __future__ import annotations

from typing import Any

from qrlink_desktop.rendezvous import validation as v
from qrlink_desktop.rendezvous.errors import ApiErrorCode

_JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _error(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {_JSON: {"schema": _ref("Error")}},
    }
    if headers:
        response["headers"] = headers
    return response


def _ok(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {_JSON: {"schema": _ref(schema)}}}


_RATE_LIMITED = _error(
    "Too many requests from this client; retry after the given number of seconds.",
    {
        "Retry-After": {
            "description": "Seconds to wait before the next request.",
            "required": True,
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        }
    },
)
_INVALID = _error("The request is malformed; the message says which field and why.")
_UNAVAILABLE = _error("The store (Redis) is unreachable; retry later.")
_FORBIDDEN = _error("The Authorization header is missing or its owner key is not this token's.")
_NOT_FOUND = _error("No live token under this username (never published, deleted or expired).")
_TOO_LARGE = _error(f"The request body is larger than {v.MAX_BODY_BYTES} bytes.")

# What a client does next with a published username (lets tools chain the calls).
_PUBLISH_LINKS: dict[str, Any] = {
    "LookupPublished": {
        "operationId": "lookup",
        "parameters": {"username": "$request.body#/username"},
    },
    "UnpublishPublished": {
        "operationId": "unpublish",
        "parameters": {"username": "$request.body#/username"},
    },
    "RefreshPublished": {
        "operationId": "refresh",
        "requestBody": {"username": "$request.body#/username"},
    },
}

_USERNAME_SCHEMA: dict[str, Any] = {
    "type": "string",
    "minLength": 3,
    "maxLength": 64,
    "pattern": v.USERNAME_PATTERN,
    "description": "The handle a token is published under.",
}
_TTL_SCHEMA: dict[str, Any] = {
    "type": "integer",
    "minimum": v.MIN_TTL_MS,
    "maximum": v.MAX_TTL_MS,
    "default": v.DEFAULT_TTL_MS,
    "description": "Time to live in milliseconds.",
}
_USERNAME_QUERY: dict[str, Any] = {
    "name": "username",
    "in": "query",
    "required": True,
    "schema": _USERNAME_SCHEMA,
}
_MS_SINCE_EPOCH: dict[str, Any] = {
    "type": "integer",
    "minimum": 0,
    "description": "Milliseconds since the Unix epoch.",
}


def _schemas() -> dict[str, Any]:
    return {
        "Turn": {
            "type": "object",
            "required": ["username", "credential", "ttl", "uris"],
            "properties": {
                "username": {"type": "string", "description": "`<expiry>:<user>`"},
                "credential": {"type": "string", "description": "base64 HMAC-SHA1"},
                "ttl": {"type": "integer", "minimum": 1},
                "uris": {"type": "array", "items": {"type": "string"}},
            },
        },
        "PublishRequest": {
            "type": "object",
            "required": ["username", "token"],
            "properties": {
                "username": _USERNAME_SCHEMA,
                "token": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": v.MAX_TOKEN_CHARS,
                    "description": "The connection proposal token (bootstrap payload).",
                },
                "ttl": _TTL_SCHEMA,
            },
        },
        "PublishResponse": {
            "type": "object",
            "required": ["tokenId", "expiresAt", "ownerKey"],
            "properties": {
                "tokenId": {"type": "string", "minLength": 1},
                "expiresAt": _MS_SINCE_EPOCH,
                "ownerKey": {
                    "type": "string",
                    "minLength": 1,
                    "description": "Send as `Authorization: Bearer <ownerKey>` to refresh, "
                    "delete or replace this token.",
                },
            },
        },
        "RefreshRequest": {
            "type": "object",
            "required": ["username"],
            "properties": {"username": _USERNAME_SCHEMA, "ttl": _TTL_SCHEMA},
        },
        "Success": {
            "type": "object",
            "required": ["success"],
            "properties": {"success": {"type": "boolean"}},
        },
        "LookupResponse": {
            "type": "object",
            "required": ["token", "username", "publishedAt"],
            "properties": {
                "token": {"type": "string"},
                "username": {"type": "string"},
                "publishedAt": _MS_SINCE_EPOCH,
            },
        },
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"type": "string", "enum": ["ok", "unavailable"]}},
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string", "enum": [str(c) for c in ApiErrorCode]},
                        "message": {"type": "string"},
                    },
                }
            },
        },
    }


def document(max_wait: float = v.MAX_WAIT_SECONDS) -> dict[str, Any]:
    owner_auth: list[dict[str, list[str]]] = [{"ownerKey": []}]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "qrlink rendezvous",
            "version": "1.0.0",
            "description": "Topic broadcaster and lookup resolver for remote bootstrap: "
            "publish a connection proposal token under a username, look it up, "
            "or wait for it with a long poll.",
        },
        "paths": {
            "/publish": {
                "post": {
                    "operationId": "publish",
                    "summary": "Publish a token under a username.",
                    "description": "Over a live token, only its owner (the Bearer owner key) "
                    "may publish again; the token is then replaced and the key kept.",
                    "security": [{}, *owner_auth],
                    "requestBody": {
                        "required": True,
                        "content": {_JSON: {"schema": _ref("PublishRequest")}},
                    },
                    "responses": {
                        "200": {**_ok("Published.", "PublishResponse"), "links": _PUBLISH_LINKS},
                        "400": _INVALID,
                        "409": _error("A live token under this username has another owner."),
                        "413": _TOO_LARGE,
                        "429": _RATE_LIMITED,
                        "503": _error(
                            "The store is unreachable, or (memory store) holds as many tokens "
                            "as it may; retry later."
                        ),
                    },
                },
                "patch": {
                    "operationId": "refresh",
                    "summary": "Extend a live token's TTL, counted from now.",
                    "security": owner_auth,
                    "requestBody": {
                        "required": True,
                        "content": {_JSON: {"schema": _ref("RefreshRequest")}},
                    },
                    "responses": {
                        "200": _ok("Refreshed.", "Success"),
                        "400": _INVALID,
                        "403": _FORBIDDEN,
                        "404": _NOT_FOUND,
                        "413": _TOO_LARGE,
                        "429": _RATE_LIMITED,
                        "503": _UNAVAILABLE,
                    },
                },
                "delete": {
                    "operationId": "unpublish",
                    "summary": "Withdraw a live token.",
                    "security": owner_auth,
                    "parameters": [_USERNAME_QUERY],
                    "responses": {
                        "200": _ok("Deleted.", "Success"),
                        "400": _INVALID,
                        "403": _FORBIDDEN,
                        "404": _NOT_FOUND,
                        "429": _RATE_LIMITED,
                        "503": _UNAVAILABLE,
                    },
                },
            },
            "/lookup": {
                "get": {
                    "operationId": "lookup",
                    "summary": "Get the live token under a username, optionally waiting.",
                    "parameters": [
                        _USERNAME_QUERY,
                        {
                            "name": "wait",
                            "in": "query",
                            "required": False,
                            "description": "Long poll: wait up to this many seconds for a "
                            "token to be published before answering 404.",
                            "schema": {
                                "type": "number",
                                "minimum": 0,
                                "maximum": max_wait,
                            },
                        },
                    ],
                    "responses": {
                        "200": _ok("The live token.", "LookupResponse"),
                        "400": _INVALID,
                        "404": _NOT_FOUND,
                        "429": _RATE_LIMITED,
                        "503": _UNAVAILABLE,
                    },
                }
            },
            "/turn": {
                "get": {
                    "operationId": "turn",
                    "summary": "Short-lived TURN REST credentials for the merchant's relay.",
                    "description": "Only against a capability: the merchant's API token "
                    "(the cashier's side), or a handle under which a token is published now "
                    "(the customer's side; the credential then ends with the handle). "
                    "Refused requests count against a per-client budget; past it, 429.",
                    "security": [{"apiToken": []}, {}],
                    "parameters": [
                        {
                            "name": "handle",
                            "in": "query",
                            "required": False,
                            "description": "A handle published now (without an API token).",
                            "schema": _USERNAME_SCHEMA,
                        }
                    ],
                    "responses": {
                        "200": _ok("Credentials and the TURN URLs to use them on.", "Turn"),
                        "400": _INVALID,
                        "401": _error(
                            "No capability: neither an API token nor a handle.",
                            {
                                "WWW-Authenticate": {
                                    "description": "The scheme to authenticate with.",
                                    "required": True,
                                    "schema": {"type": "string"},
                                }
                            },
                        ),
                        "403": _error(
                            "The API token is not the merchant's, or nothing is published "
                            "under the handle now."
                        ),
                        "404": _error("This service holds no TURN secret."),
                        "429": _RATE_LIMITED,
                        "503": _UNAVAILABLE,
                    },
                }
            },
            "/health": {
                "get": {
                    "operationId": "health",
                    "summary": "Liveness and store reachability; never rate limited.",
                    "responses": {
                        "200": _ok("Serving.", "Health"),
                        "503": _ok("The store is unreachable.", "Health"),
                    },
                }
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "summary": "Counters in the Prometheus text format.",
                    "responses": {
                        "200": {
                            "description": "Prometheus text exposition format 0.0.4.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document.",
                    "responses": {
                        "200": {
                            "description": "OpenAPI 3 document.",
                            "content": {_JSON: {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "ownerKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "The ownerKey returned by POST /publish.",
                },
                "apiToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "One of the merchant's API tokens (QRLINK_API_TOKEN on "
                    "the service).",
                },
            },
        },
    }
