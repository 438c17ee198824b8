#!/usr/bin/python
# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
module: alertmanager_silence
short_description: Create, extend or expire an Alertmanager silence, idempotently
version_added: 0.1.0
author:
  - multiagent.ops maintainers (@multiagent-ops)
requirements:
  - python >= 3.11
description:
  - Silences the alerts that O(matchers) select until O(ends_at) (or for O(duration) seconds)
    through Alertmanager's API v2, or expires silences.
  - "B(Idempotent.) A live silence with the same matchers, creator and comment is kept when it
    already ends at the asked time, and extended or shortened in place (same id) otherwise."
  - "B(Keys.) With O(key), the comment starts with C([maops:<key>]). That is the silence's
    record in Alertmanager: O(state=present) expires the live silences of the same key that
    are not this one (an earlier run that never ended), and O(state=expired) with O(key)
    expires all of them. The runbooks use the lock they hold as the key, and end the silence
    no later than the lock's expiry."
  - Runs in check mode (nothing is written; the result says what would be).
options:
  url:
    description: Base URL of Alertmanager, such as V(http://alertmanager.monitoring.svc:9093).
    type: str
    required: true
  bearer_token:
    description: Bearer token sent in the C(Authorization) header.
    type: str
  username:
    description: User for HTTP basic authentication (when O(bearer_token) is not given).
    type: str
  password:
    description: Password for HTTP basic authentication.
    type: str
  ca_path:
    description: CA bundle that signs Alertmanager's certificate (HTTPS).
    type: path
  client_cert:
    description: Client certificate (PEM) for mutual TLS.
    type: path
  client_key:
    description: Key of O(client_cert), when not in the same file.
    type: path
  validate_certs:
    description: Verify Alertmanager's certificate.
    type: bool
    default: true
  timeout:
    description: Seconds each request to Alertmanager may take.
    type: float
    default: 10
  state:
    description:
      - V(present) creates or updates the silence; V(expired) expires the silences named by
        O(id) and, with O(key), the live ones of that key.
    type: str
    choices: [present, expired]
    default: present
  matchers:
    description:
      - "The alerts to silence, as C({label: value}) (equality) or a list of
        C({name, value, regex, equal}). At least one matcher must select something. A silence
        that would mute every alert is refused."
    type: raw
  comment:
    description: Why (shown in Alertmanager's UI). With O(key), prefixed with C([maops:<key>]).
    type: str
    default: Silenced by multiagent.ops while a runbook changes the platform
  created_by:
    description: The silence's C(createdBy).
    type: str
    default: multiagent.ops
  key:
    description: The record of the silence (see B(Keys.)), such as the lock it was taken under.
    type: str
  ends_at:
    description: When the silence ends, an RFC 3339 time in the future.
    type: str
  duration:
    description: When O(ends_at) is not given, the silence ends this many seconds from now.
    type: float
  id:
    description: With O(state=expired), the ids of the silences to expire. Ids already expired or unknown are reported in RV(already_gone).
    type: list
    elements: str
notes:
  - Check mode and diff mode are supported.
seealso:
  - name: Alertmanager API v2
    description: The OpenAPI description of the silences endpoints.
    link: https://github.com/prometheus/alertmanager/blob/main/api/v2/openapi.yaml
"""

EXAMPLES = r"""
- name: Silence the platform's alerts while the upgrade runs (no later than the lock's expiry)
  multiagent.ops.alertmanager_silence:
    url: http://alertmanager.monitoring.svc:9093
    bearer_token: "{{ vault_alertmanager_token }}"
    matchers:
      platform: mplp
    key: maops-lock-platform-mplp
    comment: upgrade of core (1.0.3)
    ends_at: "{{ lock.lease.expires_at }}"
  register: silence

- name: Expire it when the run ends
  multiagent.ops.alertmanager_silence:
    url: http://alertmanager.monitoring.svc:9093
    bearer_token: "{{ vault_alertmanager_token }}"
    state: expired
    id: ["{{ silence.silence.id }}"]
"""

RETURN = r"""
silence:
  description: The silence as it is (or, in check mode, would be) after the task (O(state=present)).
  returned: state is present
  type: dict
  contains:
    id:
      description: The silence's id (null in check mode for a new one).
      type: str
    state:
      description: active, pending or expired.
      type: str
    matchers:
      description: Its matchers, in Alertmanager's shape (name, value, isRegex, isEqual).
      type: list
      elements: dict
    starts_at:
      description: Start (RFC 3339).
      type: str
    ends_at:
      description: End (RFC 3339).
      type: str
    comment:
      description: Comment, with the key's prefix.
      type: str
    created_by:
      description: Creator.
      type: str
expired:
  description: Ids of the silences this task expired (or would, in check mode).
  returned: always
  type: list
  elements: str
already_gone:
  description: Ids given in O(id) that were already expired or unknown.
  returned: state is expired
  type: list
  elements: str
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.multiagent.ops.plugins.module_utils.common.module import finish
from ansible_collections.multiagent.ops.plugins.module_utils.monitoring import silences


def argspec():
    return dict(
        url=dict(type="str", required=True),
        bearer_token=dict(type="str", no_log=True),
        username=dict(type="str"),
        password=dict(type="str", no_log=True),
        ca_path=dict(type="path"),
        client_cert=dict(type="path"),
        client_key=dict(type="path", no_log=False),
        validate_certs=dict(type="bool", default=True),
        timeout=dict(type="float", default=10),
        state=dict(type="str", choices=["present", "expired"], default="present"),
        matchers=dict(type="raw"),
        comment=dict(type="str", default="Silenced by multiagent.ops while a runbook changes the platform"),
        created_by=dict(type="str", default="multiagent.ops"),
        key=dict(type="str", no_log=False),
        ends_at=dict(type="str"),
        duration=dict(type="float"),
        id=dict(type="list", elements="str"),
    )


def main():
    module = AnsibleModule(
        argument_spec=argspec(),
        supports_check_mode=True,
        required_if=[("state", "present", ["matchers"])],
        mutually_exclusive=[("ends_at", "duration"), ("bearer_token", "username")],
    )
    finish(module, silences.run)


if __name__ == "__main__":
    main()
