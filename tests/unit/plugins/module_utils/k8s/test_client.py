"""Error classification: what an operator reads when the API call fails."""

import json

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError, Client, classify


class HTTPErr(Exception):
    def __init__(self, status, body=b""):
        super().__init__("HTTP %d" % status)
        self.status, self.body, self.reason = status, body, "x"


def test_401_is_fatal_and_says_credentials():
    err = classify(HTTPErr(401), "http://k:1", "list pods in namespace a")
    assert err.kind == "unauthorized" and err.fatal
    assert "rejected the credentials (401 Unauthorized)" in str(err) and "http://k:1" in str(err)


def test_403_carries_the_api_message_and_is_not_fatal():
    body = b'{"kind":"Status","message":"pods is forbidden: User \\"u\\" cannot list resource \\"pods\\""}'
    err = classify(HTTPErr(403, body), "http://k:1", "list pods in namespace a")
    assert err.kind == "forbidden" and not err.fatal
    assert 'pods is forbidden: User "u" cannot list' in str(err)


def test_connection_refused_names_the_server():
    exc = ConnectionRefusedError("[Errno 111] Connection refused")
    err = classify(exc, "http://127.0.0.1:1", "connect")
    assert err.kind == "unreachable" and err.fatal
    expected = "cannot reach the Kubernetes API at http://127.0.0.1:1 (connection refused)"
    assert str(err) == expected + " while trying to connect"


def test_timeouts():
    class ReadTimeoutError(Exception):
        pass

    assert classify(ReadTimeoutError("read timed out"), "h", "x").kind == "timeout"
    assert classify(HTTPErr(504), "h", "x").kind == "timeout"


def test_unknown_host_is_read_from_the_urllib3_message():
    exc = Exception(
        "HTTPConnectionPool(host='10.1.2.3', port=6443): Max retries exceeded with url: /version "
        "(Caused by NewConnectionError('Failed to establish a new connection: "
        "[Errno 111] Connection refused'))"
    )
    err = classify(exc, None, "connect")
    assert err.kind == "unreachable"
    assert str(err).startswith("cannot reach the Kubernetes API at 10.1.2.3:6443 (connection refused)")


class _Response:
    status = 200
    data = b'{"kind": "ConfigMap"}'


class _Rest:
    def __init__(self):
        self.calls = []

    def request(self, method, url, headers=None, body=None, _request_timeout=None):
        self.calls.append((method, url, dict(headers), body))
        return _Response()


class _Config:
    host = "https://k8s.test/"

    @staticmethod
    def auth_settings():
        return {"BearerToken": {"in": "header", "key": "authorization", "value": "Bearer t"}}


class _ApiClient:
    def __init__(self):
        self.configuration = _Config()
        self.rest_client = _Rest()
        self.default_headers = {}


def test_send_keeps_its_defaults_for_existing_callers():
    api = _ApiClient()
    reader = Client(api)
    assert reader.send("PATCH", "/api/v1/namespaces/a/configmaps/b", {"data": {}}, "patch b") == (
        200,
        {"kind": "ConfigMap"},
    )
    reader.send("POST", "/api/v1/namespaces/a/configmaps", {"metadata": {}}, "create")
    (m1, url1, h1, _b1), (m2, url2, h2, _b2) = api.rest_client.calls
    assert (m1, url1, h1["Content-Type"]) == (
        "PATCH",
        "https://k8s.test/api/v1/namespaces/a/configmaps/b",
        "application/merge-patch+json",
    )
    assert (m2, url2, h2["Content-Type"]) == (
        "POST",
        "https://k8s.test/api/v1/namespaces/a/configmaps",
        "application/json",
    )
    assert h1["authorization"] == "Bearer t"


def test_send_takes_a_content_type_and_a_query():
    api = _ApiClient()
    reader = Client(api)
    reader.send(
        "PATCH",
        "/apis/apps/v1/namespaces/a/deployments/web",
        {"spec": {}},
        "patch web",
        content_type="application/strategic-merge-patch+json",
        query=[("fieldManager", "multiagent.ops"), ("dryRun", "All")],
    )
    reader.send("POST", "/api/v1/namespaces?pretty=1", {}, "create", query={"dryRun": "All"})
    (_m, url, headers, body), (_m2, url2, _h2, _b2) = api.rest_client.calls
    assert (
        url
        == "https://k8s.test/apis/apps/v1/namespaces/a/deployments/web?fieldManager=multiagent.ops&dryRun=All"
    )
    assert headers["Content-Type"] == "application/strategic-merge-patch+json"
    assert body == {"spec": {}}
    assert url2 == "https://k8s.test/api/v1/namespaces?pretty=1&dryRun=All"


class PagedClient(Client):
    """The real client over a wire of canned pages: ``{continue token: body}``."""

    host = "https://k8s.test"

    def __init__(self, pages):
        self.pages = pages
        self.calls = []

    def request(self, path, query=None, accept=None, timeout=None, retry=True):
        self.calls.append((path, dict(query or [])))
        token = dict(query or []).get("continue") or ""
        return 200, json.dumps(self.pages[token]).encode()


def test_list_follows_continue_tokens():
    reader = PagedClient(
        {
            "": {"items": [{"metadata": {"name": "a"}}], "metadata": {"continue": "t1"}},
            "t1": {"items": [{"metadata": {"name": "b"}}], "metadata": {}},
        }
    )
    path = "/api/v1/namespaces/ns/configmaps"
    assert [i["metadata"]["name"] for i in reader.list(path, "list", label_selector="a=b")] == ["a", "b"]
    assert [c[1].get("continue") for c in reader.calls] == [None, "t1"]
    assert reader.calls[0][1] == {"labelSelector": "a=b", "limit": "500"}


# -- retries ----------------------------------------------------------------------------


class _Answer:
    def __init__(self, status, data=b"{}", retry_after=None):
        self.status, self.data, self.retry_after = status, data, retry_after

    def getheader(self, name):
        return self.retry_after if name == "Retry-After" else None


class _ScriptedRest:
    """Answers (or raises) from a script, one entry per request, on a fake clock."""

    def __init__(self, clock, *script):
        self.clock, self.script, self.calls = clock, list(script), []

    def request(self, method, url, headers=None, body=None, _request_timeout=None):
        self.calls.append((method, round(self.clock.now, 2), _request_timeout))
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        return step


class _Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def _client(*script, timeout=10):
    clock = _Clock()
    api = _ApiClient()
    api.rest_client = _ScriptedRest(clock, *script)
    return Client(api, timeout=timeout, clock=clock, sleep=clock.sleep), api.rest_client


def test_a_read_is_retried_on_a_dropped_connection_and_on_5xx_until_it_answers():
    client, rest = _client(
        ConnectionResetError("Connection reset by peer"),
        _Answer(503, b'{"message":"etcd leader changed"}'),
        _Answer(200, b'{"kind":"ConfigMap"}'),
    )
    assert client.get("/api/v1/namespaces/a/configmaps/b", "read b") == {"kind": "ConfigMap"}
    assert [c[1] for c in rest.calls] == [0.0, 0.2, 0.6]  # growing pauses
    assert rest.calls[1][2] == pytest.approx(9.8)  # each attempt gets what is left of the budget


def test_429_waits_as_long_as_the_server_asks():
    client, rest = _client(_Answer(429, retry_after="3"), _Answer(200, b"{}"))
    client.get("/api/v1/namespaces/a/configmaps/b", "read b")
    assert [c[1] for c in rest.calls] == [0.0, 3.0]


def test_retries_stop_when_the_budget_is_spent_and_the_last_answer_stands():
    client, rest = _client(*[_Answer(500, b'{"message":"boom"}')] * 10, timeout=1)
    with pytest.raises(ApiError, match="HTTP 500 .* read b: boom"):
        client.get("/api/v1/namespaces/a/configmaps/b", "read b")
    assert len(rest.calls) == 3  # at 0, 0.2, 0.6; the next pause would end past 1 s


def test_no_answer_within_the_budget_is_unreachable():
    client, rest = _client(*[ConnectionRefusedError("[Errno 111] Connection refused")] * 10, timeout=1)
    with pytest.raises(ApiError, match="connection refused") as err:
        client.get("/version", "read the version")
    assert err.value.kind == "unreachable" and len(rest.calls) == 3


def test_writes_are_not_retried_unless_idempotent():
    client, rest = _client(ConnectionResetError("reset"))
    with pytest.raises(ApiError, match="create b"):
        client.send("POST", "/api/v1/namespaces/a/configmaps", {}, "create b")
    assert len(rest.calls) == 1
    client, rest = _client(_Answer(503), _Answer(201, b"{}"))
    assert client.send("POST", "/api/v1/namespaces/a/configmaps", {}, "create b")[0] == 503
    client, rest = _client(_Answer(503), _Answer(200, b'{"ok": 1}'))
    answer = client.send("PATCH", "/api/v1/namespaces/a/configmaps/b", {}, "patch b", idempotent=True)
    assert answer == (200, {"ok": 1}) and len(rest.calls) == 2


def test_a_probe_may_ask_for_no_retry():
    client, rest = _client(_Answer(503, b"down"), _Answer(200))
    assert client.request("/api/v1/namespaces/a/services/s/proxy/", retry=False) == (503, b"down")
    assert len(rest.calls) == 1


def test_4xx_answers_are_final():
    client, rest = _client(_Answer(403, b'{"message":"denied"}'), _Answer(200))
    with pytest.raises(ApiError) as err:
        client.get("/api/v1/namespaces/a/secrets", "list secrets")
    assert err.value.kind == "forbidden" and not err.value.transient and len(rest.calls) == 1


def test_transient_errors():
    assert ApiError("unreachable", "x").transient and ApiError("timeout", "x").transient
    assert ApiError("error", "x", 503).transient and ApiError("error", "x", 429).transient
    assert not ApiError("conflict", "x", 409).transient and not ApiError("error", "x", 400).transient


def test_a_call_may_shorten_its_budget_never_lengthen_it():
    client, rest = _client(*[_Answer(503)] * 20, timeout=10)
    assert client.request("/api/v1/namespaces", timeout=0.5)[0] == 503
    assert len(rest.calls) == 2  # at 0 and 0.2; 0.6 would be past the half second
    client, rest = _client(*[_Answer(503)] * 20, timeout=1)
    client.request("/api/v1/namespaces", timeout=60)
    assert len(rest.calls) == 3  # still one second, not sixty
