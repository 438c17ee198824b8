# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# The sub-options of an S3 location (store.S3_ARGSPEC) for both places a module takes one:
# the top-level s3 option of the backup and restore modules (DOCUMENTATION) and location.s3
# of backup_retention (LOCATION). The two blocks are written out in full because
# ansible-test's yamllint reads doc fragments as string literals; the unit tests of
# backup_retention check both against store.S3_ARGSPEC and store.LOCATION_ARGSPEC.


class ModuleDocFragment:
    """An S3-compatible bucket as the place backups are kept."""

    DOCUMENTATION = r"""options:
  s3:
    description:
      - "Keep the backups in an S3 or S3-compatible bucket (AWS, MinIO, Ceph, moto) under a
        prefix, instead of only in the local directory. A backup counts as stored only when
        its manifest is: the archive is uploaded first (multipart for large files), the
        manifest last."
      - >-
        Credentials come from O(s3.access_key) and O(s3.secret_key) when given, else from
        O(s3.profile), else from boto3's default chain (environment variables, C(~/.aws),
        container or instance role).
    type: dict
    suboptions:
      bucket:
        description: The bucket name.
        type: str
        required: true
      prefix:
        description: The key prefix that plays the directory (C(backups/postgresql)); a trailing C(/) is
          implied.
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

    # A backup location: a directory or a prefix in a bucket (store.open_store's location).
    LOCATION = r"""options:
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
            Credentials come from O(location.s3.access_key) and O(location.s3.secret_key) when given,
            else from
            O(location.s3.profile), else from boto3's default chain (environment variables, C(~/.aws),
            container or instance role).
        type: dict
        suboptions:
          bucket:
            description: The bucket name.
            type: str
            required: true
          prefix:
            description: The key prefix that plays the directory (C(backups/postgresql)); a trailing
              C(/) is implied.
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
            description: C(path) or C(virtual) addressing; default C(path) with
              O(location.s3.endpoint_url), else C(auto).
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
