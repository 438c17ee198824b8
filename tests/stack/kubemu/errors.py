"""API errors rendered as Kubernetes ``Status`` objects, with the real apiserver's wording."""

from __future__ import annotations

from typing import Any

from kmock import KubernetesError


def api_error(code: int, reason: str, message: str, details: dict[str, Any] | None = None) -> KubernetesError:
    """An error that renders as a ``Status`` object, never with a traceback."""
    return KubernetesError(status=code, reason=reason, message=message, details=details)


def status_body(error: KubernetesError) -> dict[str, Any]:
    body: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": error.message or "",
        "reason": error.reason or "",
        "code": error.status,
    }
    if error.details:
        body["details"] = error.details
    return body


def qualified(plural: str, group: str) -> str:
    """``deployments.apps`` / ``pods``: how the apiserver names a resource in messages."""
    return f"{plural}.{group}" if group else plural


def _details(plural: str, group: str, name: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {"kind": plural}
    if group:
        details["group"] = group
    if name:
        details["name"] = name
    return details


def not_found(plural: str, group: str, name: str) -> KubernetesError:
    return api_error(
        404, "NotFound", f'{qualified(plural, group)} "{name}" not found', _details(plural, group, name)
    )


def already_exists(plural: str, group: str, name: str) -> KubernetesError:
    return api_error(
        409,
        "AlreadyExists",
        f'{qualified(plural, group)} "{name}" already exists',
        _details(plural, group, name),
    )


def conflict(plural: str, group: str, name: str) -> KubernetesError:
    return api_error(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {qualified(plural, group)} "{name}": the object has '
        "been modified; please apply your changes to the latest version and try again",
        _details(plural, group, name),
    )


def invalid(kind: str, group: str, name: str, causes: list[tuple[str, str]]) -> KubernetesError:
    """422 with one cause per (field, message), e.g. ``metadata.name: Invalid value: ...``."""
    text = ", ".join(f"{field}: {message}" for field, message in causes)
    details: dict[str, Any] = {
        "name": name,
        "kind": kind,
        "causes": [
            {"reason": "FieldValueInvalid", "message": message, "field": field} for field, message in causes
        ],
    }
    if group:
        details["group"] = group
    kind_q = f"{kind}.{group}" if group else kind
    return api_error(422, "Invalid", f'{kind_q} "{name}" is invalid: {text}', details)


def bad_request(message: str) -> KubernetesError:
    return api_error(400, "BadRequest", message)


def method_not_allowed() -> KubernetesError:
    return api_error(
        405, "MethodNotAllowed", "the server does not allow this method on the requested resource"
    )


def unauthorized() -> KubernetesError:
    return api_error(401, "Unauthorized", "Unauthorized")


def forbidden(message: str, plural: str, group: str, name: str | None) -> KubernetesError:
    return api_error(403, "Forbidden", message, _details(plural, group, name))


def service_unavailable(message: str) -> KubernetesError:
    return api_error(503, "ServiceUnavailable", message)


def url_not_found() -> KubernetesError:
    # What the apiserver answers for paths outside any API (e.g. an unknown group).
    return api_error(404, "NotFound", "the server could not find the requested resource")
