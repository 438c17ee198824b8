"""Helpers shared by kubemu's tests: an HTTP client, polling, and object builders."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any, TypeVar

import requests

T = TypeVar("T")
TOKEN = "kubemu-emulator-tests"


class Api:
    """A thin HTTP client for the emulator: returns (status code, decoded JSON or text)."""

    def __init__(self, url: str, token: str) -> None:
        self.url = url
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        headers = kwargs.pop("headers", {})
        if body is not None and not isinstance(body, (bytes, str)):
            kwargs["json"] = body
        elif body is not None:
            kwargs["data"] = body
        response = self.session.request(method, self.url + path, headers=headers, timeout=30, **kwargs)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text

    def get(self, path: str, **kwargs: Any) -> tuple[int, Any]:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, body: Any, **kwargs: Any) -> tuple[int, Any]:
        return self.request("POST", path, body, **kwargs)

    def put(self, path: str, body: Any, **kwargs: Any) -> tuple[int, Any]:
        return self.request("PUT", path, body, **kwargs)

    def delete(self, path: str, body: Any = None, **kwargs: Any) -> tuple[int, Any]:
        return self.request("DELETE", path, body, **kwargs)

    def patch(self, path: str, body: Any, kind: str = "strategic-merge", **kwargs: Any) -> tuple[int, Any]:
        content_type = "application/apply-patch+yaml" if kind == "apply" else f"application/{kind}-patch+json"
        data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        return self.request("PATCH", path, data, headers={"Content-Type": content_type}, **kwargs)

    def ok(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        """Like request(), but asserts a 2xx answer and returns only the body."""
        if method == "PATCH":
            status, data = self.patch(path, body, **kwargs)
        else:
            status, data = self.request(method, path, body, **kwargs)
        assert 200 <= status < 300, (status, data)
        return data


def wait_for(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.05) -> T:
    """Poll until ``check()`` returns something truthy; return it (or fail with the last value)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")


def wait_until(
    fetch: Callable[[], T], predicate: Callable[[T], Any], timeout: float = 10.0, interval: float = 0.05
) -> T:
    """Poll ``fetch()`` until ``predicate`` holds for its result; return that result."""
    box: list[T] = []

    def check() -> bool:
        box[:] = [fetch()]
        return bool(predicate(box[0]))

    wait_for(check, timeout, interval)
    return box[0]


def deployment(name: str, replicas: int = 2, image: str = "nginx:1.25", **spec: Any) -> dict[str, Any]:
    template_meta = spec.pop("template_metadata", {})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}, **template_meta},
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "image": image,
                            "ports": [{"containerPort": 8000}],
                            "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
                        }
                    ]
                },
            },
            **spec,
        },
    }


def pod(name: str, annotations: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": name}, "annotations": annotations or {}},
        "spec": {"containers": [{"name": "app", "image": "busybox:1.36"}], **spec},
    }
