# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""checkov's Kubernetes check ids and the catalogue's rules that stand for them.

A placeholder with a few mappings only, so that the waivers of ``checkov.io/skipN``
annotations can be tested; the full table (every mapped check, and the unmapped ones with
their reasons) replaces it.
"""

from __future__ import annotations

#: checkov check id -> the ids of the rules that find what it finds.
CHECKOV = {
    "CKV_K8S_16": ("MAO-001",),  # Container should not be privileged
    "CKV_K8S_20": ("MAO-002",),  # Containers should not run with allowPrivilegeEscalation
    "CKV_K8S_22": ("MAO-008",),  # Use read-only filesystem for containers where possible
    "CKV_K8S_28": ("MAO-006", "MAO-007"),  # Minimize the admission of containers with the NET_RAW capability
    "CKV_K8S_38": ("MAO-027",),  # Ensure that Service Account Tokens are only mounted where necessary
    "CKV_K8S_43": ("MAO-017",),  # Image should use digest
}
#: checkov check id -> why no rule stands for it.
UNMAPPED = {}
