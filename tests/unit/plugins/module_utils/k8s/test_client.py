"""Error classification: what an operator reads when the API call fails."""

from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import KubeReader, classify


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


def test_service_proxy_path():
    assert (
        KubeReader.service_proxy_path("ns", "svc", "8080", "/ready")
        == "/api/v1/namespaces/ns/services/svc:8080/proxy/ready"
    )
    assert (
        KubeReader.service_proxy_path("ns", "svc", None, "health", "https")
        == "/api/v1/namespaces/ns/services/https:svc/proxy/health"
    )


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
    reader = KubeReader(api)
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
    reader = KubeReader(api)
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
