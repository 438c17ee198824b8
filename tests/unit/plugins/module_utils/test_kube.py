"""Error classification: what an operator reads when the API call fails."""

from ansible_collections.multiagent.ops.plugins.module_utils.kube import KubeReader, classify


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
