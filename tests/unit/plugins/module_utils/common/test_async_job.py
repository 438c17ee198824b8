"""Reading an Ansible async job's status file."""

import json

import pytest

from ansible_collections.multiagent.ops.plugins.module_utils.common import async_job
from ansible_collections.multiagent.ops.plugins.module_utils.common.result import OpsError


@pytest.mark.parametrize(
    "status,done",
    [
        ({"started": True, "finished": False, "ansible_job_id": "1.2"}, False),
        ({"started": 1, "finished": 0}, False),
        ({"changed": True, "backups": []}, True),  # the module's result
        ({"failed": True, "msg": "boom"}, True),
        ({"started": 1, "finished": 1, "failed": True, "msg": "timed out"}, True),
        (None, False),  # unreadable: still being written
    ],
)
def test_finished(status, done):
    assert async_job.finished(status) is done


def test_reader_reads_the_jobs_file_in_the_async_dir(tmp_path):
    read = async_job.reader(str(tmp_path), "123.456")
    (tmp_path / "123.456").write_text(json.dumps({"started": True, "finished": False}))
    assert read() == {"started": True, "finished": False}
    (tmp_path / "123.456").write_text('{"changed": tr')
    assert read() is None


def test_reader_defaults_to_the_users_async_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert async_job.reader(None, "9").path == str(tmp_path / ".ansible_async" / "9")


def test_a_missing_status_file_names_the_job_and_the_path(tmp_path):
    with pytest.raises(OpsError) as err:
        async_job.reader(str(tmp_path), "77")()
    assert "async job 77 has no status file %s" % (tmp_path / "77") in str(err.value)
