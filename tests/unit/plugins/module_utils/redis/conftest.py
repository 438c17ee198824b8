"""Fixtures of the Redis unit tests: private servers (a source and a target) and TLS certificates."""

import subprocess

import pytest

from .servers import PrivateRedis


@pytest.fixture
def server(tmp_path):
    instance = PrivateRedis(tmp_path)
    yield instance
    instance.stop()


@pytest.fixture
def target(tmp_path):
    directory = tmp_path / "target"
    directory.mkdir()
    instance = PrivateRedis(directory, password="unit-target-pw")
    yield instance
    instance.stop()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A CA and a server certificate for 127.0.0.1, made with openssl."""
    base = tmp_path_factory.mktemp("tls")

    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=str(base))

    new_key = ["-newkey", "rsa:2048", "-nodes"]
    openssl(
        "req", "-x509", *new_key, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=unit-ca"
    )
    openssl("req", *new_key, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost")
    (base / "san.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    sign = ["-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "san.cnf"]
    openssl("x509", "-req", "-in", "server.csr", "-out", "server.crt", *sign)
    return base
