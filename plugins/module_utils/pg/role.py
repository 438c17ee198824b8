# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A role's password, changed without the password ever reaching the server in clear.

``ALTER ROLE r PASSWORD 'secret'`` puts the password into the statement: into
``pg_stat_activity``, the server log with ``log_statement``, and an exec's stdin. The
server accepts an already hashed verifier instead, which is what ``psql``'s ``\\password``
and libpq's ``PQencryptPasswordConn`` send. This module computes it here:

- ``SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>`` (RFC 5802, RFC 7677, the
  format of PostgreSQL's ``pg_authid.rolpassword``), the password prepared with SASLprep
  (RFC 4013) as the server does, and used as it is when SASLprep refuses it (again as the
  server does);
- ``md5`` + md5(password + role name), for a server whose ``password_encryption`` is md5.

The functions that talk run on a session of pg/session.py (``value``, ``execute``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import stringprep
import unicodedata

SCRAM_ITERATIONS = 4096
SCRAM_SALT_LENGTH = 16
METHODS = ("scram-sha-256", "md5")


class RoleError(Exception):
    """A password that cannot be set; the message names the role, never the password."""


def quote_ident(name):
    """A role name as an SQL identifier."""
    return '"%s"' % str(name).replace('"', '""')


def _prohibited(ch):
    return (
        stringprep.in_table_c12(ch)
        or stringprep.in_table_c21_c22(ch)
        or stringprep.in_table_c3(ch)
        or stringprep.in_table_c4(ch)
        or stringprep.in_table_c5(ch)
        or stringprep.in_table_c6(ch)
        or stringprep.in_table_c7(ch)
        or stringprep.in_table_c8(ch)
        or stringprep.in_table_c9(ch)
        or stringprep.in_table_a1(ch)
    )


def saslprep(password):
    """The password's bytes as PostgreSQL hashes them: SASLprep (RFC 4013: non-ASCII spaces
    to a space, "mapped to nothing" removed, NFKC, prohibited output and bidi rules checked)
    when it is valid UTF-8 that SASLprep accepts, else the bytes unchanged."""
    raw = password.encode("utf-8") if isinstance(password, str) else bytes(password)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw
    if text.isascii():
        return raw
    mapped = "".join(
        " " if stringprep.in_table_c12(ch) else ch for ch in text if not stringprep.in_table_b1(ch)
    )
    normal = unicodedata.normalize("NFKC", mapped)
    if not normal or any(_prohibited(ch) for ch in normal):
        return raw
    rand_al = [stringprep.in_table_d1(ch) for ch in normal]
    if any(rand_al):
        if any(stringprep.in_table_d2(ch) for ch in normal):
            return raw
        if not (rand_al[0] and rand_al[-1]):
            return raw
    return normal.encode("utf-8")


def scram_verifier(password, salt=None, iterations=SCRAM_ITERATIONS):
    """The SCRAM-SHA-256 verifier PostgreSQL stores for ``password``."""
    salt = os.urandom(SCRAM_SALT_LENGTH) if salt is None else salt
    salted = hashlib.pbkdf2_hmac("sha256", saslprep(password), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    stored_key = hashlib.sha256(client_key).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data):
        return base64.b64encode(data).decode("ascii")

    return "SCRAM-SHA-256$%d:%s$%s:%s" % (iterations, b64(salt), b64(stored_key), b64(server_key))


def md5_verifier(password, role):
    raw = password.encode("utf-8") if isinstance(password, str) else bytes(password)
    return "md5" + hashlib.md5(raw + str(role).encode("utf-8"), usedforsecurity=False).hexdigest()


def verifier(password, role, method):
    """The verifier of ``password`` for ``role`` with the server's ``password_encryption``."""
    if not password:
        raise RoleError("the new password of role %s is empty" % role)
    if "\x00" in password:
        raise RoleError("the new password of role %s has a NUL character, which PostgreSQL refuses" % role)
    method = (method or "scram-sha-256").lower()
    if method == "md5":
        return md5_verifier(password, role)
    if method == "scram-sha-256":
        return scram_verifier(password)
    raise RoleError("the server's password_encryption is %r, neither scram-sha-256 nor md5" % method)


def alter_password_sql(role, hashed):
    """The statement that gives ``role`` the verifier ``hashed`` (only base64, digits, ``$``
    and ``:``, so the literal needs no escaping beyond the quotes)."""
    if "'" in hashed or "\\" in hashed:
        raise RoleError("a verifier for role %s has a quote" % role)
    return "ALTER ROLE %s PASSWORD '%s'" % (quote_ident(role), hashed)


def set_password(session, role, password):
    """Give ``role`` the password, hashed here with the server's method; returns the method."""
    method = session.text("SELECT current_setting('password_encryption')")
    sql = alter_password_sql(role, verifier(password, role, method))
    try:
        session.execute(sql)
    except Exception as exc:  # noqa: BLE001 - SqlError quotes the statement: keep the verifier out
        cause = str(exc)
        head = sql.strip().split("\n")[0][:120]
        cause = cause[len(head) + 2 :] if cause.startswith(head) else "the statement failed"
        raise RoleError("ALTER ROLE %s PASSWORD failed: %s" % (role, cause)) from None
    return method
