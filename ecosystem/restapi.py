"""JSON API plumbing: routes that describe themselves for OpenAPI, bearer auth, bodies."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ecosystem import inputs
from ecosystem.errors import DomainError, NotAuthenticated, TooLarge
from ecosystem.i18n import _, set_locale
from ecosystem.middleware import API_LOCALE_CHOSEN
from ecosystem.models import User
from ecosystem.schemas import ErrorBody, ErrorOut, validate
from ecosystem.services import tokens

API_PREFIX = "/api/v1"
MAX_JSON_BYTES = 1024 * 1024  # JSON bodies are small; uploads go through HTML forms
ModelT = TypeVar("ModelT", bound=BaseModel)
Endpoint = Callable[[Request], Awaitable[Response]]

ERROR_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing or invalid bearer token",
    403: "Not permitted",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    422: "Invalid input",
    429: "Too many requests",
}


@dataclass(frozen=True)
class Operation:
    """What OpenAPI needs to know about one API route."""

    summary: str
    response: type[BaseModel] | None
    status_code: int = 200
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    auth: bool = True
    # With auth=False: a token is optional (anonymous callers get the public view).
    optional_auth: bool = False
    errors: Sequence[int] = (400, 401, 422)
    tags: Sequence[str] = field(default_factory=tuple)
    # Other media types the success response may have, e.g. {"text/csv": {"type": "string"}}.
    extra_content: dict[str, dict[str, Any]] = field(default_factory=dict)


class ApiRoute(Route):
    def __init__(self, path: str, endpoint: Endpoint, method: str, operation: Operation) -> None:
        super().__init__(API_PREFIX + path, endpoint, methods=[method], name=endpoint.__name__)
        self.operation = operation
        self.api_method = method.lower()


def api_route(
    method: str,
    path: str,
    endpoint: Endpoint,
    summary: str,
    response: type[BaseModel] | None,
    **options: Any,
) -> ApiRoute:
    return ApiRoute(path, endpoint, method, Operation(summary, response, **options))


def client_ip(request: Request) -> str:
    """The client's address: the direct peer, or the one a trusted proxy forwarded (see
    `ecosystem.middleware.ClientAddressMiddleware`, which sets it for the whole request)."""
    return request.client.host if request.client else ""


async def api_user(request: Request) -> User:
    """The caller of a bearer-authenticated route (401 without a valid token)."""
    if hasattr(request.state, "api_user"):
        return request.state.api_user
    header = request.headers.get("authorization", "")
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise NotAuthenticated(_("Send an API token as 'Authorization: Bearer <token>'."))
    token = await tokens.token_for_bearer(value.strip(), ip=client_ip(request))
    user = token.user
    if not request.scope.get(API_LOCALE_CHOSEN):
        set_locale(user.locale, user.timezone)  # messages in the caller's own language
    tokens.ensure_allows(token, request.method)
    request.state.api_user = user
    return user


async def optional_api_user(request: Request) -> User | None:
    """The caller if a bearer token is sent (401 if it is not valid), else None (anonymous)."""
    if not request.headers.get("authorization", "").strip():
        return None
    return await api_user(request)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, refused with a JSON 413 past `limit` bytes (before reading, if declared)."""
    too_large = TooLarge(_("The request body is too large (at most %(n)d KB).", n=limit // 1024))
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and (len(declared) > 18 or int(declared) > limit):
        raise too_large
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


async def json_body(request: Request, model: type[ModelT]) -> ModelT:
    """The body as `model` (400 malformed, too deep or a number too large; 413 too large;
    422 naming the field that breaks a rule or holds control characters)."""
    data = inputs.loads(await _read_body(request, MAX_JSON_BYTES))
    if not isinstance(data, dict):
        raise DomainError(_("The request body must be a JSON object."), code="malformed_json")
    return validate(model, data)


def query_params(request: Request, model: type[ModelT]) -> ModelT:
    return validate(model, dict(request.query_params))


def json_response(payload: BaseModel | dict[str, Any], status_code: int = 200) -> JSONResponse:
    content = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    return JSONResponse(content, status_code=status_code)


def error_response(
    status_code: int,
    code: str,
    message: str,
    fields: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorOut(error=ErrorBody(code=code, message=message, fields=fields or {}))
    return JSONResponse(body.model_dump(mode="json"), status_code=status_code, headers=headers)


# --- OpenAPI 3.1 ---------------------------------------------------------------------------

REF_TEMPLATE = "#/components/schemas/{model}"
SchemaKey = tuple[type[BaseModel], JsonSchemaMode]


def _path_parameters(path: str) -> list[dict[str, Any]]:
    parameters = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            name, _sep, kind = part[1:-1].partition(":")
            schema = {"type": "integer"} if kind == "int" else {"type": "string"}
            parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return parameters


def _query_parameters(model: type[BaseModel]) -> list[dict[str, Any]]:
    # Nested definitions (enums) are in the shared components: see `openapi_document`.
    schema = model.model_json_schema(ref_template=REF_TEMPLATE)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _schema_keys(operation: Operation) -> list[SchemaKey]:
    """The models an operation shows: inputs as validated, outputs as serialised."""
    keys: list[SchemaKey] = [(ErrorOut, "serialization")]
    if operation.query is not None:
        keys.append((operation.query, "validation"))
    if operation.body is not None:
        keys.append((operation.body, "validation"))
    if operation.response is not None:
        keys.append((operation.response, "serialization"))
    return keys


def _kernel_errors(route: ApiRoute) -> set[int]:
    """What the kernel may answer before the handler runs, whatever the operation lists: 400
    for control characters in the query string (`InputGuardMiddleware`), 400/413/422 for a
    body that is not JSON, too large, or holds control characters (`json_body`), 404 for a
    path parameter no row can have (control characters, an id past 9 digits)."""
    errors = {400}
    if route.operation.body is not None:
        errors |= {413, 422}
    if "{" in route.path:
        errors.add(404)
    return errors


def _operation_document(
    route: ApiRoute, refs: dict[SchemaKey, dict[str, Any]], operation_id: str
) -> dict[str, Any]:
    operation = route.operation
    document: dict[str, Any] = {
        "operationId": operation_id,
        "summary": operation.summary,
        "tags": list(operation.tags),
        "parameters": _path_parameters(route.path),
        "responses": {},
    }
    if operation.query is not None:
        document["parameters"] += _query_parameters(operation.query)
    if operation.body is not None:
        document["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": refs[(operation.body, "validation")]}},
        }
    success: dict[str, Any] = {"description": "Success"}
    if operation.response is not None:
        success["content"] = {
            "application/json": {"schema": refs[(operation.response, "serialization")]}
        }
        for media_type, schema in operation.extra_content.items():
            success["content"][media_type] = {"schema": schema}
    document["responses"][str(operation.status_code)] = success
    authenticated = operation.auth or operation.optional_auth
    errors = set(operation.errors) | ({401} if authenticated else set())
    if authenticated and route.api_method not in ("get", "head"):
        errors.add(403)  # a read-only token (see tokens.ensure_allows)
    errors |= _kernel_errors(route)
    for status in sorted(errors):
        document["responses"][str(status)] = {
            "description": ERROR_DESCRIPTIONS[status],
            "content": {"application/json": {"schema": refs[(ErrorOut, "serialization")]}},
        }
    if operation.auth:
        document["security"] = [{"bearerAuth": []}]
    elif operation.optional_auth:
        document["security"] = [{}, {"bearerAuth": []}]
    return document


def _openapi_path(path: str) -> str:
    """`/x/{id:int}` → `/x/{id}`."""
    return "/".join(
        "{" + p[1:-1].split(":")[0] + "}" if p.startswith("{") else p for p in path.split("/")
    )


def openapi_document(routes: Sequence[BaseRoute], title: str, version: str) -> dict[str, Any]:
    api_routes = [route for route in routes if isinstance(route, ApiRoute)]
    keys = list(dict.fromkeys(key for r in api_routes for key in _schema_keys(r.operation)))
    # One pass over every model, so two packages' models of the same name get distinct
    # components, and a model whose input and output shapes differ gets both.
    refs, definitions = models_json_schema(keys, ref_template=REF_TEMPLATE)
    paths: dict[str, dict[str, Any]] = {}
    seen_ids: set[str] = set()
    for route in api_routes:
        path = _openapi_path(route.path)
        operation_id = route.name or route.api_method
        if operation_id in seen_ids:  # same handler name in two packages
            operation_id = f"{route.api_method}_{re.sub(r'[^A-Za-z0-9]+', '_', path).strip('_')}"
        seen_ids.add(operation_id)
        paths.setdefault(path, {})[route.api_method] = _operation_document(
            route, refs, operation_id
        )
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": definitions.get("$defs", {}),
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
