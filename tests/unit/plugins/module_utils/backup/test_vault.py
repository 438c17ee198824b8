"""vault.py against Ansible's own implementation and the ansible-vault CLI, both ways."""

from __future__ import annotations

import binascii
import subprocess
import sys
from pathlib import Path

import pytest
from ansible.parsing.vault import AnsibleVaultError, VaultLib, VaultSecret

from ansible_collections.multiagent.ops.plugins.module_utils.backup import vault

PASSWORD = "correct horse battery staple"
ANSIBLE_VAULT = str(Path(sys.executable).parent / "ansible-vault")
PLAINTEXTS = [
    b"",
    b"x",
    b"exactly sixteen!",  # a full block: PKCS#7 adds a whole block of padding
    "apiVersion: v1\nkind: Secret\ndata:\n  password: c2VjcmV0\nnote: héllo\n".encode(),
    bytes(range(256)) * 3,
]


def ansible_lib(password=PASSWORD, label="default"):
    return VaultLib([(label, VaultSecret(password.encode()))])


@pytest.mark.parametrize("plaintext", PLAINTEXTS)
def test_ansible_decrypts_ours(plaintext):
    assert ansible_lib().decrypt(vault.encrypt(plaintext, PASSWORD)) == plaintext


@pytest.mark.parametrize("plaintext", PLAINTEXTS)
def test_we_decrypt_ansibles(plaintext):
    assert vault.decrypt(ansible_lib().encrypt(plaintext), PASSWORD) == plaintext


def test_same_bytes_as_ansible_for_the_same_salt():
    salt = b"s" * 32
    plaintext = b"a" * 100
    ours = vault.encrypt(plaintext, PASSWORD, salt=salt)
    theirs = ansible_lib().encrypt(plaintext, salt=salt)
    assert ours == theirs


def test_envelope_layout():
    text = vault.encrypt(b"y" * 200, PASSWORD).decode()
    lines = text.split("\n")
    assert lines[0] == "$ANSIBLE_VAULT;1.1;AES256"
    assert text.endswith("\n") and lines[-1] == ""
    body = lines[1:-1]
    assert all(len(line) == 80 for line in body[:-1]) and 0 < len(body[-1]) <= 80
    assert set("".join(body)) <= set("0123456789abcdef")


def test_vault_id_label_both_ways():
    text = vault.encrypt(b"labelled", PASSWORD, vault_id="prod")
    assert text.startswith(b"$ANSIBLE_VAULT;1.2;AES256;prod\n")
    assert ansible_lib(label="prod").decrypt(text) == b"labelled"
    theirs = ansible_lib(label="prod").encrypt(b"theirs", vault_id="prod")
    assert theirs.startswith(b"$ANSIBLE_VAULT;1.2;AES256;prod")
    assert vault.decrypt(theirs, PASSWORD) == b"theirs"
    assert vault.parse_envelope(theirs)[:3] == ("1.2", "AES256", "prod")


def test_ansible_vault_cli_both_ways(tmp_path):
    password_file = tmp_path / "password"
    password_file.write_text(PASSWORD + "\n")  # the CLI strips the newline, as documented
    ours = tmp_path / "ours.yaml"
    ours.write_bytes(vault.encrypt(b"key: from-module\n", PASSWORD))
    viewed = subprocess.run(
        [ANSIBLE_VAULT, "view", "--vault-password-file", str(password_file), str(ours)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert viewed.stdout == "key: from-module\n"
    theirs = tmp_path / "theirs.yaml"
    theirs.write_text("key: from-cli\n")
    subprocess.run(
        [ANSIBLE_VAULT, "encrypt", "--vault-password-file", str(password_file), str(theirs)],
        capture_output=True,
        check=True,
    )
    assert vault.is_encrypted(theirs.read_bytes())
    assert vault.decrypt(theirs.read_bytes(), PASSWORD) == b"key: from-cli\n"


def test_wrong_password_is_a_clear_error_both_ways():
    text = vault.encrypt(b"secret", PASSWORD)
    with pytest.raises(vault.VaultError, match="wrong vault password, or the encrypted content was altered"):
        vault.decrypt(text, "not the password")
    with pytest.raises(AnsibleVaultError):
        ansible_lib("not the password").decrypt(text)


def test_altered_ciphertext_fails_the_hmac_before_decrypting():
    _version, _cipher, _label, body = vault.parse_envelope(vault.encrypt(b"secret value", PASSWORD))
    salt, signature, ciphertext = binascii.unhexlify(body).split(b"\n")
    flipped = bytearray(binascii.unhexlify(ciphertext))
    flipped[0] ^= 1
    inner = b"\n".join([salt, signature, binascii.hexlify(bytes(flipped))])
    altered = b"$ANSIBLE_VAULT;1.1;AES256\n" + binascii.hexlify(inner) + b"\n"
    with pytest.raises(vault.VaultError, match="HMAC mismatch"):
        vault.decrypt(altered, PASSWORD)


@pytest.mark.parametrize(
    "data, message",
    [
        (b"plain text", "no \\$ANSIBLE_VAULT header"),
        (b"$ANSIBLE_VAULT;1.1\nabcd\n", "malformed ansible-vault header"),
        (b"$ANSIBLE_VAULT;1.0;AES\nabcd\n", "format 1.0 is not supported"),
        (b"$ANSIBLE_VAULT;1.1;AES128\nabcd\n", "cipher AES128 is not supported"),
        (b"$ANSIBLE_VAULT;1.1;AES256\nzz-not-hex\n", "damaged"),
        (b"$ANSIBLE_VAULT;1.1;AES256\n6162\n", "damaged"),
    ],
)
def test_malformed_content(data, message):
    with pytest.raises(vault.VaultError, match=message):
        vault.decrypt(data, PASSWORD)


def test_empty_password_or_salt_refused():
    with pytest.raises(vault.VaultError, match="password is empty"):
        vault.encrypt(b"x", "")
    with pytest.raises(vault.VaultError, match="salt is empty"):
        vault.encrypt(b"x", PASSWORD, salt=b"")


def test_random_salt_by_default():
    assert vault.encrypt(b"same", PASSWORD) != vault.encrypt(b"same", PASSWORD)


def test_derived_salt_is_deterministic_per_plaintext_and_password():
    derive = vault.SaltDeriver(PASSWORD)
    first = vault.encrypt(b"same", PASSWORD, salt=derive(b"same"))
    again = vault.encrypt(b"same", PASSWORD, salt=vault.SaltDeriver(PASSWORD)(b"same"))
    assert first == again
    assert derive(b"same") != derive(b"other")
    assert derive(b"same") != vault.SaltDeriver("another password")(b"same")
    assert len(derive(b"same")) == 32
    assert ansible_lib().decrypt(first) == b"same"


def test_is_encrypted():
    assert vault.is_encrypted(vault.encrypt(b"x", PASSWORD))
    assert vault.is_encrypted("$ANSIBLE_VAULT;1.1;AES256\n00")
    assert not vault.is_encrypted(b"apiVersion: v1\n")
    assert not vault.is_encrypted(None)


@pytest.mark.parametrize("password", ["s3cret\n", " s3cret ", "\ts3cret\r\n", "pässwörd \n"])
def test_whitespace_around_the_password_is_stripped_as_the_cli_does(tmp_path, password):
    # The CLI strips what it reads from a password file (and a prompt): same keys both ways.
    password_file = tmp_path / "password"
    password_file.write_bytes(password.encode())
    ours = tmp_path / "ours.yaml"
    ours.write_bytes(vault.encrypt(b"key: from-module\n", password))
    viewed = subprocess.run(
        [ANSIBLE_VAULT, "view", "--vault-password-file", str(password_file), str(ours)],
        capture_output=True,
        check=True,
    )
    assert viewed.stdout == b"key: from-module\n"
    theirs = tmp_path / "theirs.yaml"
    theirs.write_text("key: from-cli\n")
    subprocess.run(
        [ANSIBLE_VAULT, "encrypt", "--vault-password-file", str(password_file), str(theirs)],
        capture_output=True,
        check=True,
    )
    assert vault.decrypt(theirs.read_bytes(), password) == b"key: from-cli\n"
    assert vault.decrypt(theirs.read_bytes(), password.strip()) == b"key: from-cli\n"


def test_files_encrypted_with_the_unstripped_password_still_decrypt():
    # What vault.py wrote before it stripped passwords: keys from the password as given.
    raw = " s3cret\n"
    salt = b"s" * 32
    old = VaultLib([("default", VaultSecret(raw.encode()))]).encrypt(b"old archive", salt=salt)
    assert vault.decrypt(old, raw) == b"old archive"
    with pytest.raises(vault.VaultError, match="HMAC mismatch"):
        vault.decrypt(old, "s3cret")  # the raw password is tried only when given
    # New files use the stripped password, as ansible-vault does.
    assert vault.encrypt(b"new", raw, salt=salt) == vault.encrypt(b"new", "s3cret", salt=salt)
    assert vault.SaltDeriver(raw)(b"x") == vault.SaltDeriver("s3cret")(b"x")


@pytest.mark.parametrize("password", [" ", "\n", " \t\r\n"])
def test_a_password_of_whitespace_only_is_refused(password):
    for call in (
        lambda: vault.encrypt(b"x", password),
        lambda: vault.decrypt(vault.encrypt(b"x", PASSWORD), password),
        lambda: vault.SaltDeriver(password),
    ):
        with pytest.raises(vault.VaultError, match="only whitespace: ansible-vault strips"):
            call()
