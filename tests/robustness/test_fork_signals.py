"""A process forked by textlab (a pool worker) dies on SIGTERM, as Pool.terminate() expects,
even when the signal arrives before the child has reset the parent's handler."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_sigterm_before_the_childs_reset_still_kills_it():
    # Our at-fork hook, registered before textlab's, runs first in the child: a SIGTERM sent
    # there is one that arrived at once, as a pool terminated right after it started sends it.
    # Then the child met the parent's Python handler, whose pending call it dropped ("Signal 15
    # ignored due to race condition"), and lived on: Pool.terminate() waited for it forever.
    script = textwrap.dedent("""
        import os, signal, sys, time
        os.register_at_fork(after_in_child=lambda: os.kill(os.getpid(), signal.SIGTERM))
        import textlab.runtime.signals
        signal.signal(signal.SIGTERM, lambda signum, frame: None)
        pid = os.fork()
        if pid == 0:
            time.sleep(10)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        print(os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGTERM)
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "True", run.stderr
