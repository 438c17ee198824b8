# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Ansible Vault file format (1.1/1.2, AES256), written from its published specification.

Modules cannot import ``ansible.parsing.vault`` (it is controller code), yet what they
encrypt must open with ``ansible-vault view/decrypt``, an AWX vault credential or an
``include_vars`` of the file. This is the format as the Ansible documentation ("Format of
files encrypted with Ansible Vault", "Ansible Vault payload format 1.1 - 1.2") specifies it:

- a header ``$ANSIBLE_VAULT;1.1;AES256`` (``;1.2;AES256;<vault-id label>`` with a label);
- PBKDF2-HMAC-SHA256 over the password (without leading and trailing whitespace, which
  the ansible-vault CLI strips from password files and prompts) with the salt, 10000
  iterations, giving 80 bytes: a 32-byte AES key, a 32-byte HMAC key and a 16-byte
  counter IV;
- the plaintext padded to the AES block (PKCS#7, RFC 5652 section 6.3) and encrypted with
  AES-256 in CTR mode, the 128-bit counter block starting at the IV;
- an RFC 2104 HMAC-SHA256 of the ciphertext with the HMAC key;
- the body: ``hexlify(hexlify(salt) + b"\\n" + hexlify(hmac) + b"\\n" + hexlify(ciphertext))``
  in lines of 80 characters after the header, ending with a newline.

The salt is 32 random bytes unless the caller passes one. ``deterministic_salt`` derives it
from the plaintext with a key stretched from the password, so an unchanged plaintext
encrypts to the same bytes (backups of an unchanged namespace are identical): like
Ansible's own ``vault_encrypt_salt`` setting, but different plaintexts still get different
salts, hence different keys and counters. What it reveals is only that two encryptions
with the same password hold the same plaintext.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
import os

try:
    from cryptography.hazmat.backends import default_backend
    from cryptography.hazmat.primitives import hashes, padding
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    HAS_CRYPTOGRAPHY = True
    CRYPTOGRAPHY_IMPORT_ERROR = None
except ImportError as _exc:  # pragma: no cover - cryptography comes with ansible-core
    HAS_CRYPTOGRAPHY = False
    CRYPTOGRAPHY_IMPORT_ERROR = _exc

FORMAT_ID = b"$ANSIBLE_VAULT"
CIPHER = b"AES256"
ITERATIONS = 10000
KEY_LENGTH = 32
IV_LENGTH = 16
SALT_LENGTH = 32
LINE = 80
ENCRYPTION = "ansible-vault-1.1-aes256"
_SALT_CONTEXT = b"multiagent.ops vault salt v1"


class VaultError(Exception):
    """Content that cannot be encrypted or decrypted; the message says why (never the secret)."""


def _require():
    if not HAS_CRYPTOGRAPHY:
        raise VaultError(
            "the Python package cryptography is needed for ansible-vault encryption (%s)"
            % CRYPTOGRAPHY_IMPORT_ERROR
        )


def _bytes(value, what):
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise VaultError("%s must be text or bytes, not %s" % (what, type(value).__name__))


def _password(password):
    """The password as the ansible-vault CLI uses it: its UTF-8 bytes without leading and
    trailing whitespace (the CLI strips what it reads from a password file or a prompt), so
    that files open both ways. Empty after that is refused."""
    secret = _bytes(password, "the vault password")
    if not secret:
        raise VaultError("the vault password is empty")
    stripped = secret.strip()
    if not stripped:
        raise VaultError(
            "the vault password is only whitespace: ansible-vault strips leading and trailing "
            "whitespace from passwords, which leaves it empty"
        )
    return stripped


def _passwords(password):
    """The passwords to try when decrypting: the stripped one (what ansible-vault and this
    module write with), then the one as given if it differs (files this module wrote before
    it stripped passwords)."""
    stripped = _password(password)
    raw = _bytes(password, "the vault password")
    return [stripped] if raw == stripped else [stripped, raw]


def derive_keys(password, salt):
    """``(aes_key, hmac_key, iv)`` from the password (stripped, as ansible-vault does) and
    the salt, as the format defines."""
    return _derive(_password(password), salt)


def _derive(secret, salt):
    _require()
    kdf = PBKDF2HMAC(
        algorithm=hashes.SHA256(),
        length=2 * KEY_LENGTH + IV_LENGTH,
        salt=salt,
        iterations=ITERATIONS,
        backend=default_backend(),
    )
    derived = kdf.derive(secret)
    return derived[:KEY_LENGTH], derived[KEY_LENGTH : 2 * KEY_LENGTH], derived[2 * KEY_LENGTH :]


class SaltDeriver:
    """Salts derived from each plaintext: ``HMAC-SHA256(K, context + plaintext)`` with ``K``
    stretched from the password by PBKDF2 (10000 iterations, like the vault keys), so that
    a salt is no cheaper an oracle for guessing the password than the vault itself."""

    def __init__(self, password):
        self._key = hashlib.pbkdf2_hmac("sha256", _password(password), _SALT_CONTEXT, ITERATIONS)

    def __call__(self, plaintext):
        return hmac.new(self._key, _SALT_CONTEXT + _bytes(plaintext, "the plaintext"), "sha256").digest()


def _hexlify_lines(data):
    text = binascii.hexlify(data)
    return [text[i : i + LINE] for i in range(0, len(text), LINE)]


def encrypt(plaintext, password, salt=None, vault_id=None):
    """The vault text (bytes, ending with a newline) of ``plaintext``, encrypted with the
    password stripped of leading and trailing whitespace, as ansible-vault does."""
    _require()
    data = _bytes(plaintext, "the plaintext")
    salt = os.urandom(SALT_LENGTH) if salt is None else _bytes(salt, "the salt")
    if not salt:
        raise VaultError("the salt is empty")
    aes_key, hmac_key, iv = derive_keys(password, salt)
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    padded = padder.update(data) + padder.finalize()
    encryptor = Cipher(algorithms.AES(aes_key), modes.CTR(iv), backend=default_backend()).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    signature = hmac.new(hmac_key, ciphertext, hashlib.sha256).hexdigest().encode("ascii")
    inner = b"\n".join([binascii.hexlify(salt), signature, binascii.hexlify(ciphertext)])
    if vault_id:
        header = b";".join([FORMAT_ID, b"1.2", CIPHER, _bytes(vault_id, "the vault id")])
    else:
        header = b";".join([FORMAT_ID, b"1.1", CIPHER])
    return b"\n".join([header] + _hexlify_lines(inner) + [b""])


def is_encrypted(data):
    """True when ``data`` (text or bytes) starts with the vault header."""
    try:
        return _bytes(data, "the data").lstrip().startswith(FORMAT_ID + b";")
    except VaultError:
        return False


def parse_envelope(data):
    """``(version, cipher, vault_id or None, body bytes)``; raises VaultError when malformed."""
    lines = _bytes(data, "the vault text").strip().splitlines()
    if not lines or not lines[0].startswith(FORMAT_ID + b";"):
        raise VaultError("not ansible-vault content (no $ANSIBLE_VAULT header)")
    fields = lines[0].strip().split(b";")
    if len(fields) < 3:
        raise VaultError("malformed ansible-vault header %r" % lines[0][:60].decode("ascii", "replace"))
    version, cipher = fields[1].decode("ascii", "replace"), fields[2].decode("ascii", "replace")
    vault_id = fields[3].decode("utf-8", "replace") if len(fields) > 3 and fields[3] else None
    body = b"".join(line.strip() for line in lines[1:])
    return version, cipher, vault_id, body


def decrypt(data, password):
    """The plaintext (bytes) of vault text ``data``.

    A wrong password and altered content both fail the HMAC check before anything is
    decrypted: the error says so without telling them apart (the format cannot). The
    password is tried stripped of leading and trailing whitespace (as ansible-vault uses
    it), then as given when that differs.
    """
    _require()
    version, cipher, _vault_id, body = parse_envelope(data)
    if version not in ("1.1", "1.2"):
        raise VaultError(
            "ansible-vault format %s is not supported (1.1 and 1.2 are; re-key the file with a "
            "current ansible-vault)" % version
        )
    if cipher != CIPHER.decode("ascii"):
        raise VaultError("ansible-vault cipher %s is not supported (AES256 is)" % cipher)
    try:
        inner = binascii.unhexlify(body)
        salt_hex, signature_hex, ciphertext_hex = inner.split(b"\n", 2)
        salt = binascii.unhexlify(salt_hex)
        signature = binascii.unhexlify(signature_hex)
        ciphertext = binascii.unhexlify(ciphertext_hex)
    except (binascii.Error, TypeError, ValueError) as exc:
        raise VaultError("the ansible-vault content is damaged (%s)" % exc.__class__.__name__) from None
    for secret in _passwords(password):
        aes_key, hmac_key, iv = _derive(secret, salt)
        expected = hmac.new(hmac_key, ciphertext, hashlib.sha256).digest()
        if hmac.compare_digest(expected, signature):
            break
    else:
        raise VaultError("wrong vault password, or the encrypted content was altered (HMAC mismatch)")
    decryptor = Cipher(algorithms.AES(aes_key), modes.CTR(iv), backend=default_backend()).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
    try:
        return unpadder.update(padded) + unpadder.finalize()
    except ValueError:
        raise VaultError("the ansible-vault content is damaged (bad padding)") from None
