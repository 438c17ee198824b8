# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)


class ModuleDocFragment:
    """What every Kubernetes module of this collection shares beside kubernetes.core's
    authentication options (kubernetes.core.k8s_auth_options)."""

    DOCUMENTATION = r"""
options:
  api_timeout:
    description:
      - Seconds one Kubernetes API call may take, retries included.
      - Reads, and changes that set fields to fixed values, are tried again when the
        connection is refused or dropped and on HTTP 429 and 5xx answers, with growing
        pauses (or the server's C(Retry-After)), until this time is spent. Creates,
        replacements and deletions are never retried.
    type: float
    default: 30
"""
