"""JSON API plumbing: routes that describe themselves for OpenAPI, bearer auth, bodies."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ecosystem.errors import DomainError, NotAuthenticated
from ecosystem.i18n import _
from ecosystem.models import User
from ecosystem.schemas import ErrorBody, ErrorOut, validate
from ecosystem.services import tokens

API_PREFIX = "/api/v1"
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
    errors: Sequence[int] = (400, 401, 422)
    tags: Sequence[str] = field(default_factory=tuple)


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
    return request.client.host if request.client else ""


async def api_user(request: Request) -> User:
    """The caller of a bearer-authenticated route (401 without a valid token)."""
    if hasattr(request.state, "api_user"):
        return request.state.api_user
    header = request.headers.get("authorization", "")
    scheme, _sep, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise NotAuthenticated(_("Send an API token as 'Authorization: Bearer <token>'."))
    request.state.api_user = await tokens.user_for_bearer(value.strip(), ip=client_ip(request))
    return request.state.api_user


async def json_body(request: Request, model: type[ModelT]) -> ModelT:
    raw = await request.body()
    try:
        data = json.loads(raw or b"null")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DomainError(_("The request body is not valid JSON."), code="malformed_json") from exc
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


def _path_parameters(path: str) -> list[dict[str, Any]]:
    parameters = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            name, _sep, kind = part[1:-1].partition(":")
            schema = {"type": "integer"} if kind == "int" else {"type": "string"}
            parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return parameters


def _query_parameters(model: type[BaseModel], components: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def _schema_ref(model: type[BaseModel], components: dict[str, Any]) -> dict[str, str]:
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    components[model.__name__] = schema
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _operation_document(route: ApiRoute, components: dict[str, Any]) -> dict[str, Any]:
    operation = route.operation
    document: dict[str, Any] = {
        "operationId": route.name,
        "summary": operation.summary,
        "tags": list(operation.tags),
        "parameters": _path_parameters(route.path),
        "responses": {},
    }
    if operation.query is not None:
        document["parameters"] += _query_parameters(operation.query, components)
    if operation.body is not None:
        document["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _schema_ref(operation.body, components)}},
        }
    success: dict[str, Any] = {"description": "Success"}
    if operation.response is not None:
        success["content"] = {
            "application/json": {"schema": _schema_ref(operation.response, components)}
        }
    document["responses"][str(operation.status_code)] = success
    error_ref = _schema_ref(ErrorOut, components)
    errors = set(operation.errors) | ({401} if operation.auth else set())
    for status in sorted(errors):
        document["responses"][str(status)] = {
            "description": ERROR_DESCRIPTIONS[status],
            "content": {"application/json": {"schema": error_ref}},
        }
    if operation.auth:
        document["security"] = [{"bearerAuth": []}]
    return document


def openapi_document(routes: Sequence[BaseRoute], title: str, version: str) -> dict[str, Any]:
    components: dict[str, Any] = {}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not isinstance(route, ApiRoute):
            continue
        path = "/".join(
            "{" + p[1:-1].split(":")[0] + "}" if p.startswith("{") else p
            for p in route.path.split("/")
        )
        paths.setdefault(path, {})[route.api_method] = _operation_document(route, components)
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
