"""pg/role.py: the verifier a password is changed with, never the password itself."""

from __future__ import annotations

import base64
import hashlib

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.pg import role


@pytest.mark.parametrize(
    "given, prepared",
    [
        ("I\u00adX", b"IX"),  # RFC 4013 section 3: soft hyphen mapped to nothing
        ("user", b"user"),
        ("USER", b"USER"),  # case is kept
        ("\u00aa", b"a"),  # NFKC
        ("\u2168", b"IX"),  # NFKC
        ("a\u00a0b", b"a b"),  # non-ASCII space to a space
        ("\u0007", b"\x07"),  # prohibited: PostgreSQL then hashes the bytes as given
        ("\u0627" + "1", "\u0627" + "1"),  # RandALCat first but not last: bidi rule, as given
    ],
)
def test_saslprep_follows_rfc_4013_and_falls_back_to_the_bytes_as_postgresql_does(given, prepared):
    want = prepared if isinstance(prepared, bytes) else prepared.encode("utf-8")
    assert role.saslprep(given) == want


def test_scram_verifier_has_postgresqls_format_and_derives_from_the_salted_password():
    salt = bytes(range(16))
    verifier = role.scram_verifier("pencil", salt=salt, iterations=4096)
    method, rest = verifier.split("$", 1)
    head, keys = rest.split("$")
    iterations, salt_b64 = head.split(":")
    stored, server = (base64.b64decode(k) for k in keys.split(":"))
    assert method == "SCRAM-SHA-256" and iterations == "4096" and base64.b64decode(salt_b64) == salt
    assert len(stored) == len(server) == 32
    # RFC 5802: StoredKey = H(HMAC(SaltedPassword, "Client Key")), so another password or salt
    # gives another verifier, and the same ones the same verifier
    assert role.scram_verifier("pencil", salt=salt) == verifier
    assert role.scram_verifier("pencil2", salt=salt) != verifier
    assert role.scram_verifier("pencil") != verifier  # a random salt by default
    assert "pencil" not in verifier


def test_md5_verifier_is_md5_of_password_and_role_name():
    assert role.md5_verifier("secret", "app") == "md5" + hashlib.md5(b"secretapp").hexdigest()


@pytest.mark.parametrize("password, message", [("", "empty"), ("a\x00b", "NUL")])
def test_a_password_postgresql_cannot_take_is_refused_naming_the_role(password, message):
    with pytest.raises(role.RoleError, match="role app.*%s|%s.*role app" % (message, message)):
        role.verifier(password, "app", "scram-sha-256")


def test_an_unknown_password_encryption_is_refused():
    with pytest.raises(role.RoleError, match="password_encryption"):
        role.verifier("x" * 20, "app", "plain")


class Session:
    def __init__(self, method="scram-sha-256", fail=None):
        self.method = method
        self.fail = fail
        self.sql = []

    def text(self, sql):
        self.sql.append(sql)
        return self.method

    def execute(self, sql):
        self.sql.append(sql)
        if self.fail:
            raise Exception("%s: %s" % (sql[:120], self.fail))


@pytest.mark.parametrize("method, prefix", [("scram-sha-256", "SCRAM-SHA-256$"), ("md5", "md5")])
def test_set_password_sends_the_servers_kind_of_verifier_and_never_the_password(method, prefix):
    session = Session(method)
    assert role.set_password(session, 'we"ird', "s3cret-value-1234") == method
    statement = session.sql[-1]
    assert statement.startswith('ALTER ROLE "we""ird" PASSWORD \'%s' % prefix)
    assert "s3cret-value-1234" not in " ".join(session.sql)


def test_a_failed_alter_role_says_why_without_quoting_the_verifier():
    session = Session(fail="permission denied to alter role")
    with pytest.raises(role.RoleError) as caught:
        role.set_password(session, "app", "s3cret-value-1234")
    text = str(caught.value)
    assert "ALTER ROLE app PASSWORD failed" in text and "permission denied to alter role" in text
    assert "SCRAM-SHA-256" not in text and "s3cret" not in text
