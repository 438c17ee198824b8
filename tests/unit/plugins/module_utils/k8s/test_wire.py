"""k8s/wire.py against a real TLS server on loopback that asks for a client certificate."""

from __future__ import annotations

import datetime
import http.server
import json
import os
import ssl
import threading

import pytest

cryptography = pytest.importorskip("cryptography")  # a test dependency (moto's)
from cryptography import x509  # noqa: E402
from cryptography.hazmat.primitives import hashes, serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import ec  # noqa: E402
from cryptography.x509.oid import NameOID  # noqa: E402

from ansible_collections.multiagent.ops.plugins.module_utils.k8s import config, wire  # noqa: E402
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError, Client  # noqa: E402


def _pem_key(key):
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _cert(name, key, issuer_name, issuer_key, ca=False, sans=()):
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer_name)]))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(list(sans)), critical=False)
    return builder.sign(issuer_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


@pytest.fixture(scope="module")
def pki():
    ca_key = ec.generate_private_key(ec.SECP256R1())
    server_key = ec.generate_private_key(ec.SECP256R1())
    client_key = ec.generate_private_key(ec.SECP256R1())
    return {
        "ca": _cert("test-ca", ca_key, "test-ca", ca_key, ca=True),
        "server": _cert("kube.internal", server_key, "test-ca", ca_key, sans=[x509.DNSName("kube.internal")]),
        "server_key": _pem_key(server_key),
        "client": _cert("ops-user", client_key, "test-ca", ca_key),
        "client_key": _pem_key(client_key),
    }


@pytest.fixture(scope="module")
def server(pki, tmp_path_factory):
    d = tmp_path_factory.mktemp("tls")
    for name in ("ca", "server", "server_key"):
        (d / name).write_bytes(pki[name])
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(d / "server", d / "server_key")
    ctx.load_verify_locations(d / "ca")
    ctx.verify_mode = ssl.CERT_OPTIONAL

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self):
            peer = self.connection.getpeercert() or {}
            subject = dict(item[0] for item in peer.get("subject", ()))
            length = int(self.headers.get("Content-Length") or 0)
            body = json.dumps(
                {
                    "method": self.command,
                    "path": self.path,
                    "client": subject.get("commonName"),
                    "authorization": self.headers.get("Authorization"),
                    "groups": self.headers.get_all("Impersonate-Group"),
                    "body": json.loads(self.rfile.read(length)) if length else None,
                }
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_GET = do_PATCH = _answer

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield "https://127.0.0.1:%d" % httpd.server_address[1]
    httpd.shutdown()


def connection(server, pki, **overrides):
    conn = config.Connection(server)
    conn.ca_data = pki["ca"].decode()
    conn.tls_server_name = "kube.internal"  # the certificate's name, not 127.0.0.1
    conn.cert_data, conn.key_data = pki["client"], pki["client_key"]
    conn.headers["Authorization"] = "Bearer t"
    for key, value in overrides.items():
        setattr(conn, key, value)
    return conn


def test_client_certificate_and_key_from_data_ca_from_data_and_the_tls_server_name(server, pki):
    conn = connection(server, pki, groups=["dev", "ops"])
    before = set(os.listdir("/tmp"))
    answer = Client(wire.Session(conn), timeout=5).send("PATCH", "/api/v1/x", {"a": 1}, "patch x")
    assert answer == (
        200,
        {
            "method": "PATCH",
            "path": "/api/v1/x",
            "client": "ops-user",
            "authorization": "Bearer t",
            "groups": ["dev", "ops"],
            "body": {"a": 1},
        },
    )
    assert set(os.listdir("/tmp")) <= before  # the key went through memory, not a file


def test_the_same_from_files_and_without_memfd(server, pki, tmp_path, monkeypatch):
    (tmp_path / "ca.pem").write_bytes(pki["ca"])
    (tmp_path / "client.pem").write_bytes(pki["client"])
    (tmp_path / "client.key").write_bytes(pki["client_key"])
    conn = connection(
        server,
        pki,
        ca_data=None,
        ca_file=str(tmp_path / "ca.pem"),
        cert_data=None,
        cert_file=str(tmp_path / "client.pem"),
    )
    monkeypatch.delattr(os, "memfd_create", raising=False)
    monkeypatch.setattr(wire.tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    assert Client(wire.Session(conn), timeout=5).get("/api", "read the API")["client"] == "ops-user"
    assert list((tmp_path / "tmp").iterdir()) == []  # the private key file was removed at once


def test_a_server_certificate_the_ca_did_not_sign_is_refused_unless_verification_is_off(server, pki):
    other = ec.generate_private_key(ec.SECP256R1())
    conn = connection(server, pki, ca_data=_cert("other-ca", other, "other-ca", other, ca=True).decode())
    with pytest.raises(ApiError) as err:
        Client(wire.Session(conn), timeout=3).get("/api", "read the API")
    assert err.value.kind == "unreachable" and "CERTIFICATE_VERIFY_FAILED" in str(err.value)
    conn.verify = False
    assert Client(wire.Session(conn), timeout=3).get("/api", "read the API")["path"] == "/api"


def test_the_host_name_is_checked_against_the_certificate(server, pki):
    conn = connection(server, pki, tls_server_name=None)  # 127.0.0.1 is not in the certificate
    calls = []
    client = Client(wire.Session(conn), timeout=30, sleep=calls.append)
    with pytest.raises(ApiError, match="cannot reach.*match") as err:
        client.get("/api", "read the API")
    assert err.value.kind == "unreachable" and calls == []  # a refused certificate is not retried
