# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The sub-options of an S3 location (store.S3_ARGSPEC), written once for both places a module
# takes one: the top-level s3 option of the backup and restore modules (DOCUMENTATION) and
# location.s3 of backup_retention (LOCATION). {s3} stands for the option's path, for O().
_S3_SUBOPTIONS = r"""
bucket:
  description: The bucket name.
  type: str
  required: true
prefix:
  description: The key prefix that plays the directory (C(backups/postgresql)); a trailing C(/) is implied.
  type: str
  default: ""
endpoint_url:
  description:
    - URL of an S3-compatible server (C(http://127.0.0.1:9000)). Omit for AWS S3.
    - With an endpoint, path-style addressing is the default and checksum headers
      are sent only where the API requires them (several S3 look-alikes reject them).
  type: str
region:
  description: The region of the bucket (C(us-east-1)).
  type: str
access_key:
  description: Access key ID.
  type: str
secret_key:
  description: Secret access key.
  type: str
session_token:
  description: Session token of temporary credentials.
  type: str
profile:
  description: A profile of the shared AWS configuration files.
  type: str
addressing_style:
  description: C(path) or C(virtual) addressing; default C(path) with O({s3}.endpoint_url), else C(auto).
  type: str
  choices: [auto, path, virtual]
validate_certs:
  description: Verify the endpoint's TLS certificate.
  type: bool
  default: true
ca_bundle:
  description: CA bundle to verify the endpoint's certificate with.
  type: path
"""

_CREDENTIALS = r"""Credentials come from O({s3}.access_key) and O({s3}.secret_key) when given, else from
O({s3}.profile), else from boto3's default chain (environment variables, C(~/.aws),
container or instance role)."""


def _block(text, s3, indent):
    """``text`` for the option at ``s3``, indented by ``indent`` spaces."""
    pad = " " * indent
    return "\n".join(
        pad + line if line else line for line in text.replace("{s3}", s3).strip("\n").split("\n")
    )


class ModuleDocFragment:
    """An S3-compatible bucket as the place backups are kept."""

    DOCUMENTATION = (
        r"""
options:
  s3:
    description:
      - "Keep the backups in an S3 or S3-compatible bucket (AWS, MinIO, Ceph, moto) under a
        prefix, instead of only in the local directory. A backup counts as stored only when
        its manifest is: the archive is uploaded first (multipart for large files), the
        manifest last."
      - >-
"""
        + _block(_CREDENTIALS, "s3", 8)
        + r"""
    type: dict
    suboptions:
"""
        + _block(_S3_SUBOPTIONS, "s3", 6)
        + "\n"
    )

    # A backup location: a directory or a prefix in a bucket (store.open_store's location).
    LOCATION = (
        r"""
options:
  location:
    description:
      - Where the backups are, exactly one of O(location.path) and O(location.s3).
    type: dict
    required: true
    suboptions:
      path:
        description:
          - A directory on the host that runs the module (a PVC mount in the backup CronJob).
            Only the files directly in it are considered.
        type: path
      s3:
        description:
          - A prefix in an S3 or S3-compatible bucket (MinIO, Ceph, moto). Only the objects
            directly under the prefix are considered (not those under a further C(/)).
          - >-
"""
        + _block(_CREDENTIALS, "location.s3", 12)
        + r"""
        type: dict
        suboptions:
"""
        + _block(_S3_SUBOPTIONS, "location.s3", 10)
        + "\n"
    )
