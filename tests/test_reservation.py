"""textlab.reservation: an output's name is reserved for a job's life (flock on a lock file
beside it), released however the job ends; writers of a cache entry take turns."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest

from textlab.errors import TextlabError
from textlab.reservation import lock_path, reserve_output, taking_turns


def test_a_reserved_name_is_refused_to_a_second_job_even_with_force(tmp_path):
    out = tmp_path / "m"
    with reserve_output(out, force=False):
        assert json.loads(lock_path(out).read_text())["pid"] == os.getpid()
        for force in (False, True):
            with pytest.raises(TextlabError, match=f"the model {out} is reserved by another running job "
                                                   f"\\(pid {os.getpid()}, since "):
                with reserve_output(out, force=force):
                    pass
    assert not lock_path(out).exists()
    with reserve_output(out, force=False):  # free again
        pass


def test_the_reservation_is_released_when_the_job_fails(tmp_path):
    out = tmp_path / "m"
    with pytest.raises(KeyboardInterrupt), reserve_output(out, force=False):
        raise KeyboardInterrupt
    assert not lock_path(out).exists()
    with reserve_output(out, force=False):
        pass


def test_an_existing_output_still_needs_force(tmp_path):
    out = tmp_path / "m"
    out.mkdir()
    with pytest.raises(TextlabError, match="already exists; pass --force"), reserve_output(out, force=False):
        pass
    assert not lock_path(out).exists()
    with reserve_output(out, force=True):
        pass


def test_only_the_saving_process_holds_it(tmp_path):
    """Under torchrun the other ranks only check (``hold=False``)."""
    out = tmp_path / "m"
    with reserve_output(out, force=False, hold=False):
        assert not lock_path(out).exists()
        with reserve_output(out, force=False):
            pass


def test_a_killed_holder_leaves_a_reservation_the_next_job_takes_over(tmp_path, capsys):
    out = tmp_path / "m"
    code = (f"import os, sys\nfrom textlab.reservation import reserve_output\n"
            f"with reserve_output({str(out)!r}, force=False):\n    print(os.getpid(), flush=True)\n"
            f"    os.kill(os.getpid(), 9)\n")
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    pid = int(run.stdout.split()[0])
    assert run.returncode == -9 and lock_path(out).exists()
    with reserve_output(out, force=False):
        pass
    assert f"taking over a stale reservation of {out} left by pid {pid} (no longer running)" in capsys.readouterr().err
    assert not lock_path(out).exists()


def test_writers_of_one_entry_take_turns(tmp_path):
    entry = tmp_path / "entry.ids"
    inside, leave, said = threading.Event(), threading.Event(), []

    def first():
        with taking_turns(entry, "waiting", log=said.append):
            inside.set()
            leave.wait(30)
            entry.write_text("done")

    holder = threading.Thread(target=first)
    holder.start()
    assert inside.wait(30)
    threading.Timer(0.3, leave.set).start()
    with taking_turns(entry, "waiting for another job", log=said.append):
        assert entry.read_text() == "done"  # the first writer had finished
    holder.join(30)
    assert said == [f"waiting for another job (pid {os.getpid()}, since " + said[0].split(", since ")[1]]
    assert not lock_path(entry).exists()
