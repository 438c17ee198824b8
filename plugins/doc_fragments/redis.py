# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """How the Redis modules reach the server: address, ACL user, TLS, timeout
    (module_utils/redis/module.py connection_argspec())."""

    DOCUMENTATION = r"""
options:
  host:
    description: Host name or address of the Redis server (the one backed up, or the restore's target).
    type: str
    required: true
  port:
    description: Port of the Redis server.
    type: int
    default: 6379
  username:
    description:
      - ACL user (Redis >= 6); the notes of each module say which permissions it needs.
      - Whenever it is given the module authenticates as this user (C(AUTH username password)),
        with an empty password when O(password) is not given (a C(nopass) user).
    type: str
  password:
    description:
      - Password (of O(username), or of the default user). Never logged or returned, never in a
        command line.
    type: str
  timeout:
    description:
      - Seconds to wait for the server at a time (to connect, for each reply, for each read of a
        snapshot stream). While it forks for a snapshot, the server sends a keep-alive every second.
    type: float
    default: 30
  tls:
    description: Connect with TLS.
    type: bool
    default: false
  tls_ca_cert:
    description: CA certificates to verify the server's certificate with (PEM); default the system's.
    type: path
  tls_client_cert:
    description: Client certificate (PEM) for servers that require one.
    type: path
  tls_client_key:
    description: Key of O(tls_client_cert) (PEM), when not in the same file.
    type: path
  validate_certs:
    description: Verify the server's TLS certificate and host name.
    type: bool
    default: true
"""
