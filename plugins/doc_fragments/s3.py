# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """An S3-compatible bucket as the place backups are kept."""

    DOCUMENTATION = r"""
options:
  s3:
    description:
      - "Keep the backups in an S3 or S3-compatible bucket (AWS, MinIO, Ceph, moto) under a
        prefix, instead of only in the local directory. A backup counts as stored only when
        its manifest is: the archive is uploaded first (multipart for large files), the
        manifest last."
      - Credentials come from O(s3.access_key) and O(s3.secret_key) when given, else from
        O(s3.profile), else from boto3's default chain (environment variables, C(~/.aws),
        container or instance role).
    type: dict
    suboptions:
      bucket:
        description: The bucket name.
        type: str
        required: true
      prefix:
        description: The key prefix that plays the directory (C(backups/postgresql)); a C(/) is implied.
        type: str
        default: ""
      endpoint_url:
        description:
          - URL of an S3-compatible server (C(http://127.0.0.1:9000)). Omit for AWS S3.
          - With an endpoint, path-style addressing is the default and checksum headers
            are sent only where the API requires them.
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
        description: C(path) or C(virtual) addressing; default C(path) with O(s3.endpoint_url), else C(auto).
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
