# Copyright (c) 2026, multiagent.ops contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The runner of ``k8s_secret_rotate``: rotate a Secret and restart only what reads it, or
put back what a record says it held before (security/rotation.py has the plan).

Rotation, in this order, each step only after the previous one succeeded:

1. read the Secret and the namespace's Deployments, StatefulSets and DaemonSets (one LIST
   each, concurrently) and the other Secrets and ConfigMaps their templates read;
2. write the record (ansible-vault, atomic, 0600): the previous values, before any change;
3. with ``database``: ``ALTER ROLE`` with a verifier hashed here (pg/role.py), then a new
   login with the new password; a failed login puts the old password back;
4. the Secret, with its resourceVersion as read (a concurrent change is refused, not
   overwritten); a refusal puts the database role back;
5. the users restarted (config-checksum or restartedAt) and their rollouts waited for.

The rollback does the same from the record: the role first, then the Secret, then the
restarts, so the pods come back on the values the database accepts again.
"""

from __future__ import annotations

import datetime
import os
import time
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.multiagent.ops.plugins.module_utils.backup import artifact, vault
from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError, nothing_changed
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import patch, resources
from ansible_collections.multiagent.ops.plugins.module_utils.k8s import rollout as k8s_rollout
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.apply import plan as ap
from ansible_collections.multiagent.ops.plugins.module_utils.k8s.client import ApiError
from ansible_collections.multiagent.ops.plugins.module_utils.pg import content as pg_content
from ansible_collections.multiagent.ops.plugins.module_utils.pg import role as pg_role
from ansible_collections.multiagent.ops.plugins.module_utils.pg import session as pg_session
from ansible_collections.multiagent.ops.plugins.module_utils.security import rotation

HIDDEN = "(value hidden)"
CHANGED_HIDDEN = "(new value hidden)"


def _unchanged(output):
    """``output`` for a failure before anything was changed."""
    result = dict(output)
    result["changed"] = False
    return result


def _utcnow():
    return datetime.datetime.now(datetime.UTC)


def _restart_stamp(users, now=None):
    """The ``restartedAt`` of this run's restarts, as ``kubectl rollout restart`` stamps it,
    never the second a user was last restarted (k8s_rollout's, so that it is a change)."""
    clock = (lambda: now) if now else k8s_rollout.local_now
    return k8s_rollout.rfc3339(k8s_rollout.restart_time([u.obj for u in users], clock, time.sleep))


def _label(namespace, name):
    return "Secret %s/%s" % (namespace, name)


# -- reads ---------------------------------------------------------------------------------


def _read_state(client, namespace, name):
    """``(secret, workloads)``: the Secret (None when absent) and the namespace's workloads
    (with ``kind``), read concurrently."""
    kinds = [resources.get(kind) for kind in rotation.KINDS]

    def read(index):
        if index == 0:
            return client.get_optional(
                resources.SECRET.object_path(namespace, name), "read %s" % _label(namespace, name)
            )
        api = kinds[index - 1]
        items = client.list(
            api.collection_path(namespace), "list %ss in namespace %s" % (api.kind, namespace)
        )
        for item in items:
            item["kind"] = api.kind
        return items

    with ThreadPoolExecutor(max_workers=len(kinds) + 1) as pool:
        answers = list(pool.map(read, range(len(kinds) + 1)))
    return answers[0], [obj for items in answers[1:] for obj in items]


def _contents(client, namespace, users, name, secret):
    """``{(kind, name): {key: bytes}}`` of every Secret and ConfigMap the users read (the
    rotated Secret as read already); absent ones are left out."""
    wanted = sorted({(r.kind, r.name) for u in users for r in u.refs} - {("Secret", name)})
    contents = {("Secret", name): ap.config_content(secret)}

    def read(key):
        kind, ref = key
        return client.get_optional(
            resources.get(kind).object_path(namespace, ref), "read %s %s/%s" % (kind, namespace, ref)
        )

    if wanted:
        with ThreadPoolExecutor(max_workers=min(8, len(wanted))) as pool:
            for key, obj in zip(wanted, pool.map(read, wanted), strict=True):
                if obj is not None:
                    contents[key] = ap.config_content(obj)
    return contents


# -- the database role ---------------------------------------------------------------------


class Database:
    """The ``database`` option: where the role lives and how to log in to change it."""

    def __init__(self, params, client):
        self.p = params
        self.client = client
        self.role = params["role"]
        self.key = params["key"]
        self._pod = None

    def _target(self, user, password):
        p = self.p
        conn = {
            "host": p.get("host"),
            "port": p.get("port"),
            "user": user,
            "password": password,
            "sslmode": p.get("ssl_mode"),
            "connect_timeout": p.get("connect_timeout"),
        }
        if p.get("mode") != "in_cluster":
            return pg_session.Target("direct", conn, {})
        if self._pod is None:
            try:
                self._pod = pg_session.find_pod(
                    self.client, p["namespace"], p.get("pod"), p.get("pod_selector")
                )
            except ApiError as exc:
                raise pg_content.SqlError(str(exc)) from exc
        return pg_session.Target(
            "in-cluster",
            conn,
            {"psql": "psql"},
            api_client=self.client.api,
            pod=self._pod,
            namespace=p["namespace"],
            container=p.get("container"),
            timeout=p.get("exec_timeout"),
        )

    def login(self, password):
        """A session as the role with ``password`` (SqlError when it is refused)."""
        return self._target(self.role, password).session(self.p.get("dbname") or "postgres")

    def admin(self, *passwords):
        """A session that may change the role's password: as ``login_user`` when given, else
        as the role itself with the first of ``passwords`` that logs in. ``(session, which)``:
        ``which`` is the index of the password that worked (None for login_user)."""
        if self.p.get("login_user"):
            target = self._target(self.p["login_user"], self.p.get("login_password"))
            return target.session(self.p.get("dbname") or "postgres"), None
        errors = []
        for index, password in enumerate(passwords):
            if password is None:
                continue
            try:
                return self.login(password), index
            except pg_content.SqlError as exc:
                errors.append(str(exc))
        raise pg_content.SqlError("cannot log in as role %s: %s" % (self.role, "; ".join(errors)))

    def can_login(self, password):
        try:
            self.login(password).close()
        except pg_content.SqlError:
            return False
        return True

    def change(self, old, new):
        """Give the role ``new`` (logging in with ``old``, or with ``new`` when an earlier run
        already changed it), then prove it by logging in with ``new``. Returns what it did."""
        session, which = self.admin(old, new)
        try:
            if which == 1:
                return {
                    "role": self.role,
                    "altered": False,
                    "verified": True,
                    "message": "already had the new password",
                }
            method = pg_role.set_password(session, self.role, new)
        finally:
            session.close()
        if not self.can_login(new):
            session = self.admin(new, old)[0]
            try:
                pg_role.set_password(session, self.role, old)
            finally:
                session.close()
            raise pg_role.RoleError(
                "role %s does not log in with the new password after ALTER ROLE (its old password is back)"
                % self.role
            )
        return {
            "role": self.role,
            "altered": True,
            "verified": True,
            "method": method,
            "mode": self.p.get("mode"),
        }


def _database_failure(db, exc, done):
    message = "Failed to change the password of PostgreSQL role %s: %s" % (db.role, exc)
    return message + ("; already done: %s" % ", ".join(done) if done else "")


# -- the record ----------------------------------------------------------------------------


def _write_record(p, record, moment):
    """Write the record into ``record_dir`` (required with state=rotated: module.rotate_main)."""
    directory = p["record_dir"]
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, rotation.record_name(p["namespace"], p["name"], moment))
    data = vault.encrypt(
        rotation.encode_record(record), p["vault_password"], vault_id=p.get("vault_id") or None
    )
    sha256 = artifact.write_bytes(path, data, mode=0o600)
    return {"path": path, "sha256": sha256, "encryption": vault.ENCRYPTION}


def _read_record(p):
    path = p.get("record")
    if not path:
        directory = p.get("record_dir")
        if not directory or not os.path.isdir(directory):
            raise OpsError(nothing_changed("give record (a rotation record) or record_dir (where they are)"))
        newest = rotation.newest_record(os.listdir(directory), p["namespace"], p["name"])
        if newest is None:
            raise OpsError(
                nothing_changed(
                    "no rotation record of %s in %s" % (_label(p["namespace"], p["name"]), directory)
                )
            )
        path = os.path.join(directory, newest)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
        plain = vault.decrypt(data, p["vault_password"])
    except OSError as exc:
        raise OpsError(nothing_changed("cannot read rotation record %s: %s" % (path, exc.strerror))) from None
    except vault.VaultError as exc:
        raise OpsError(nothing_changed("cannot decrypt rotation record %s: %s" % (path, exc))) from None
    try:
        record = rotation.decode_record(plain, path, p["namespace"], p["name"])
    except rotation.RotationError as exc:
        raise OpsError(nothing_changed(str(exc))) from None
    return path, record


# -- the steps -----------------------------------------------------------------------------


def _public(plans):
    return [{k: v for k, v in plan.items() if k != "patch"} for plan in plans]


def _diff(namespace, name, keys, plans, rollback):
    label = _label(namespace, name)
    before = {label: {key: HIDDEN for key in keys}}
    after = {label: {key: (HIDDEN if rollback else CHANGED_HIDDEN) for key in keys}}
    for plan in plans:
        if plan["patch"] is not None:
            workload = "%s/%s" % (plan["kind"], plan["name"])
            before[workload] = {plan["how"]: plan["before"]}
            after[workload] = {plan["how"]: plan["after"]}
    return {"before": before, "after": after}


class SecretNotUpdated(Exception):
    """The Secret's update failed. ``status`` is the server's answer; None when no answer
    came, so whether the update was made is unknown."""

    def __init__(self, message, status):
        super().__init__(message)
        self.status = status


def _apply(client, request, output, namespace, name, body, plans, done):
    """Patch the Secret, then the users (one patch loop, k8s/patch.py); then wait for their
    rollouts. SecretNotUpdated when the Secret's own update failed (nothing after it sent)."""
    p = request.params
    label = _label(namespace, name)
    pending = [plan for plan in plans if plan["patch"] is not None]
    # guarded by the resourceVersion read: never retried (a retry of an update that was made
    # would answer 409 and read as a conflict)
    changes = [
        patch.Change(
            resources.SECRET.object_path(namespace, name),
            body,
            "update %s" % label,
            done="updated %s" % label,
            idempotent=False,
        )
    ]
    changes += [
        patch.Change(
            resources.get(plan["kind"]).object_path(namespace, plan["name"]),
            plan["patch"],
            "restart %s/%s in namespace %s" % (plan["kind"], plan["name"], namespace),
            done="restarted %s/%s" % (plan["kind"], plan["name"]),
        )
        for plan in pending
    ]
    try:
        patch.patch_each(client, changes)
    except patch.PatchError as exc:
        if not exc.done:
            message = (
                "Failed to update %s: it changed since it was read; run again" % label
                if exc.status == 409
                else str(exc)
            )
            raise SecretNotUpdated(message, exc.status) from None
        before = "; also done before: %s" % ", ".join(done) if done else ""
        raise OpsError("%s%s" % (exc, before), **output) from None
    done.extend(change.done for change in changes)
    if not (p["wait"] and pending):
        return
    waited = k8s_rollout.wait_rollouts(
        client,
        [{"kind": plan["kind"], "namespace": namespace, "name": plan["name"]} for plan in pending],
        p["wait_timeout"],
    )
    for plan, status in zip(pending, waited, strict=True):
        plan["status"] = {k: status.get(k) for k in ("done", "failed", "message", "ready", "replicas")}
    output["workloads"] = _public(plans)
    failed = [s for s in waited if s["failed"]]
    if failed:
        raise OpsError(
            "%s: the restarted workloads did not become ready: %s (already done: %s)"
            % (
                _label(namespace, name),
                " | ".join(k8s_rollout.failure_message(s) for s in failed),
                ", ".join(done),
            ),
            **output,
        )


def _users_and_contents(client, namespace, name, secret, workloads):
    users = rotation.users(workloads, name)
    return users, _contents(client, namespace, users, name, secret)


def rotate(request, client, now=None):
    p = request.params
    namespace, name = p["namespace"], p["name"]
    secret, workloads = _read_state(client, namespace, name)
    if secret is None:
        raise OpsError(nothing_changed("%s does not exist" % _label(namespace, name)))
    try:
        current = rotation.decode_data(secret)
        request.mask({v for v in current.values() if isinstance(v, str) and v})
        values, changed = rotation.new_values(
            current, p.get("data"), p.get("generate") or (), p["generate_length"]
        )
    except rotation.RotationError as exc:
        raise OpsError(nothing_changed("%s: %s" % (_label(namespace, name), exc))) from None
    request.mask(set(values.values()))
    database = p.get("database")
    if database and database["key"] not in values:
        raise OpsError(
            nothing_changed(
                "%s: database.key %s is not among the keys rotated (%s)"
                % (_label(namespace, name), database["key"], ", ".join(sorted(values)))
            )
        )
    if database and not current.get(database["key"]):
        # The role's password now is not the Secret's: no record could give it back.
        raise OpsError(
            nothing_changed(
                "%s holds no %s yet: role %s's current password is unknown, so a rotation could not "
                "be rolled back; put the current password in the Secret first (deploy_secrets), then "
                "rotate" % (_label(namespace, name), database["key"], database["role"])
            )
        )
    users, contents = _users_and_contents(client, namespace, name, secret, workloads)
    moment = now or _utcnow()
    stamp = _restart_stamp(users, now)
    output = {
        "changed": bool(changed),
        "secret": {"namespace": namespace, "name": name},
        "keys": changed,
        "generated": sorted(p.get("generate") or []),
        "record": None,
        "database": None,
        "workloads": [],
    }
    if not changed:
        output["workloads"] = [
            {"kind": u.kind, "name": u.name, "how": "unchanged", "before": None, "after": None} for u in users
        ]
        output["message"] = "%s already holds these values: nothing to do" % _label(namespace, name)
        return output
    after = rotation.content_after(contents, name, {k: values[k] for k in changed})
    plans = [rotation.restart_plan(u, name, contents, after, stamp) for u in users] if p["restart"] else []
    output["workloads"] = _public(plans)
    if request.diff:
        output["diff"] = _diff(namespace, name, changed, plans, rollback=False)
    if request.check_mode:
        output["message"] = "would rotate %s (%s) and restart %d workloads" % (
            _label(namespace, name),
            ", ".join(changed),
            sum(1 for plan in plans if plan["patch"]),
        )
        if database:
            output["database"] = {"role": database["role"], "altered": False, "would_alter": True}
        return output

    previous = {key: current.get(key) for key in changed}
    record = rotation.new_record(
        namespace,
        name,
        moment.isoformat(),
        previous,
        {k: values[k] for k in changed},
        database={"role": database["role"], "key": database["key"]} if database else None,
        workloads=plans,
    )
    try:
        output["record"] = _write_record(p, record, moment)
    except (OSError, vault.VaultError, artifact.ArtifactError) as exc:
        raise OpsError(
            nothing_changed("cannot write the rotation record: %s" % exc), **_unchanged(output)
        ) from None

    done = []
    db = (
        Database(dict(database, namespace=database.get("namespace") or namespace), client)
        if database
        else None
    )
    if db:
        old, new = current.get(db.key), values[db.key]
        try:
            output["database"] = db.change(old, new)
        except (pg_content.SqlError, pg_role.RoleError) as exc:
            _forget_record(output)
            raise OpsError(nothing_changed(_database_failure(db, exc, done)), **_unchanged(output)) from None
        if output["database"]["altered"]:
            done.append("ALTER ROLE %s" % db.role)
    body = rotation.secret_patch(
        {k: values[k] for k in changed},
        resource_version=(secret.get("metadata") or {}).get("resourceVersion"),
    )
    try:
        _apply(client, request, output, namespace, name, body, plans, done)
    except SecretNotUpdated as exc:
        # With an answer (a refusal) the update was not made; without one, whether it was is
        # unknown and the record stays for the rollback.
        message = str(exc)
        undone = True
        if db and output["database"]["altered"]:
            undone, words = _undo_role(db, new=values[db.key], old=current.get(db.key))
            message += words
        if exc.status is not None and undone:
            _forget_record(output)
            raise OpsError(nothing_changed(message), **_unchanged(output)) from None
        raise OpsError(message, **output) from None
    output["message"] = "rotated %s (%s); %s" % (
        _label(namespace, name),
        ", ".join(changed),
        _restarted_words(plans),
    )
    return output


def _undo_role(db, new, old):
    """``(done, words)``: the role given its old password back."""
    try:
        db.change(new, old)
    except (pg_content.SqlError, pg_role.RoleError) as exc:
        return False, "; the role %s could NOT be given its old password back: %s" % (db.role, exc)
    return True, "; the role %s has its old password again" % db.role


def _forget_record(output):
    """Remove the record of a rotation that changed nothing (a rollback has nothing to do)."""
    record = output.get("record")
    if record:
        try:
            os.remove(record["path"])
        except OSError:
            return
        output["record"] = None


def _restarted_words(plans):
    restarted = ["%s/%s" % (p["kind"], p["name"]) for p in plans if p["patch"]]
    kept = ["%s/%s" % (p["kind"], p["name"]) for p in plans if not p["patch"]]
    words = "restarted %s" % (", ".join(restarted) or "nothing")
    if kept:
        words += "; kept running %s (read it only at start-up)" % ", ".join(kept)
    return words


def roll_back(request, client, now=None):
    p = request.params
    namespace, name = p["namespace"], p["name"]
    path, record = _read_record(p)
    request.mask({v for v in record["previous"].values() if isinstance(v, str) and v})
    request.mask({v for v in record["rotated"].values() if isinstance(v, str) and v})
    secret, workloads = _read_state(client, namespace, name)
    if secret is None:
        raise OpsError(nothing_changed("%s does not exist" % _label(namespace, name)))
    current = rotation.decode_data(secret)
    request.mask({v for v in current.values() if isinstance(v, str) and v})
    values, removed = rotation.rollback_values(record, current)
    database = record.get("database")
    output = {
        "changed": False,
        "secret": {"namespace": namespace, "name": name},
        "keys": sorted(list(values) + removed),
        "record": {"path": path},
        "database": None,
        "workloads": [],
    }
    db = None
    if database:
        if not p.get("database"):
            raise OpsError(
                nothing_changed(
                    "the record says role %s's password was changed: give the database option to change it "
                    "back" % database["role"]
                )
            )
        given = p["database"]
        db = Database(
            dict(
                given,
                role=database["role"],
                key=database["key"],
                namespace=given.get("namespace") or namespace,
            ),
            client,
        )
    users, contents = _users_and_contents(client, namespace, name, secret, workloads)
    stamp = _restart_stamp(users, now)
    after = rotation.content_after(contents, name, values, removed)
    plans = []
    if p["restart"] and (values or removed):
        plans = [rotation.restart_plan(u, name, contents, after, stamp) for u in users]
    output["workloads"] = _public(plans)
    previous_password = record["previous"].get(database["key"]) if database else None
    if db and not previous_password:
        raise OpsError(
            nothing_changed(
                "record %s holds no previous password of role %s (%s was not in the Secret): the role's "
                "old password cannot be put back" % (path, database["role"], database["key"])
            )
        )
    role_back = bool(db) and not (request.check_mode or db.can_login(previous_password))
    output["changed"] = bool(values or removed or role_back)
    if request.diff:
        output["diff"] = _diff(namespace, name, output["keys"], plans, rollback=True)
    if request.check_mode or not output["changed"]:
        output["message"] = "%s %s the values of record %s" % (
            _label(namespace, name),
            "would get back" if output["changed"] else "already holds",
            path,
        )
        return output
    done = []
    if role_back:
        rotated_password = record["rotated"].get(database["key"])
        try:
            output["database"] = db.change(rotated_password, previous_password)
        except (pg_content.SqlError, pg_role.RoleError) as exc:
            raise OpsError(nothing_changed(_database_failure(db, exc, done)), **_unchanged(output)) from None
        done.append("ALTER ROLE %s (back)" % db.role)
    elif db:
        output["database"] = {
            "role": db.role,
            "altered": False,
            "verified": True,
            "message": "already had its old password",
        }
    if values or removed:
        body = rotation.secret_patch(
            values, removed, resource_version=(secret.get("metadata") or {}).get("resourceVersion")
        )
        try:
            _apply(client, request, output, namespace, name, body, plans, done)
        except SecretNotUpdated as exc:
            raise OpsError(
                "%s (putting back the values of record %s); also done: %s"
                % (exc, path, ", ".join(done) or "nothing"),
                **output,
            ) from None
    output["message"] = "rolled %s back to record %s; %s" % (
        _label(namespace, name),
        path,
        _restarted_words(plans),
    )
    return output


def run(request, client, now=None):
    if request.params["state"] == "rolled_back":
        return roll_back(request, client, now=now)
    return rotate(request, client, now=now)
