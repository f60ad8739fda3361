"""Someone typing at a terminal (a real pseudo-terminal, the command's controlling terminal):
each line is answered as soon as it is entered, and Ctrl-C ends the command with exit 130 and
the one line ``textlab: interrupted``, never a fatal error, a traceback or a hang."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import time

import pytest

termios = pytest.importorskip("termios")

# Runs in the new session: the pty on stdin becomes its controlling terminal; SIGINT/SIGTERM get
# their default action and are unblocked, as a shell starts a foreground job (dispositions and
# masks are inherited through exec, and this test process may have changed them); then textlab.
BECOME_TERMINAL_OWNER = (
    "import fcntl, os, signal, sys, termios; fcntl.ioctl(0, termios.TIOCSCTTY, 0); "
    "[signal.signal(s, signal.SIG_DFL) for s in (signal.SIGINT, signal.SIGTERM)]; "
    "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM}); "
    "os.execv(sys.executable, [sys.executable, '-m', 'textlab', *sys.argv[1:]])"
)
STARTUP_SECONDS = 120  # torch and a model load on a busy 2-core machine
ANSWER_SECONDS = 30


class Terminal:
    """``textlab ARGS`` with stdin and stdout on a pseudo-terminal (no echo), stderr on a pipe."""

    def __init__(self, *args: str, home):
        try:
            master, slave = os.openpty()
        except OSError as exc:
            pytest.skip(f"no pseudo-terminal on this machine ({exc})")
        attributes = termios.tcgetattr(slave)
        attributes[3] &= ~termios.ECHO
        termios.tcsetattr(slave, termios.TCSANOW, attributes)
        env = {**os.environ, "TEXTLAB_HOME": str(home), "TEXTLAB_NO_PROGRESS": "1"}
        env.pop("TEXTLAB_DEBUG", None)
        self.process = subprocess.Popen([sys.executable, "-c", BECOME_TERMINAL_OWNER, *args], stdin=slave,
                                        stdout=slave, stderr=subprocess.PIPE, start_new_session=True, env=env)
        os.close(slave)
        self.master = master
        self.seen = b""

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    def read_until(self, pattern: str, seconds: float) -> str:
        """Output until a line matching ``pattern`` (CRLF from the terminal turned into LF)."""
        deadline = time.monotonic() + seconds
        while not re.search(pattern, self.text(), re.MULTILINE):
            left = deadline - time.monotonic()
            assert left > 0, f"no output matching {pattern!r} within {seconds} s; got {self.text()!r}"
            if select.select([self.master], [], [], min(left, 1.0))[0]:
                try:
                    self.seen += os.read(self.master, 4096)
                except OSError:  # the command exited and closed the terminal
                    assert self.process.poll() is None, f"exited early: {self.finish(0)}"
        return self.text()

    def text(self) -> str:
        return self.seen.decode("utf-8", errors="replace").replace("\r\n", "\n")

    def finish(self, seconds: float) -> tuple[int, str]:
        try:
            code = self.process.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise AssertionError("the command did not exit after Ctrl-C (a hang)") from None
        finally:
            os.close(self.master)
        return code, self.process.stderr.read().decode("utf-8", errors="replace")

    def interrupt(self) -> tuple[int, str]:
        """Ctrl-C typed: the terminal sends SIGINT to its foreground process group."""
        self.type("\x03")
        return self.finish(60)


def check_interrupted(code: int, stderr: str, before: str = "") -> None:
    """Exit 130 and one line about it, after what the command said on stderr (``before``)."""
    assert "Fatal Python error" not in stderr and "Traceback" not in stderr, stderr
    assert code == 130, (code, stderr)
    assert stderr == before + "textlab: interrupted\n", stderr


def test_tokenize_answers_each_line_and_stops_on_ctrl_c(tmp_path):
    terminal = Terminal("tokenize", "--lang", "en", home=tmp_path)
    terminal.type("Hello, World!\n")
    assert terminal.read_until(r"^hello world$", STARTUP_SECONDS) == "hello world\n"
    terminal.type("Don't PANIC\n")
    assert terminal.read_until(r"^don't panic$", ANSWER_SECONDS) == "hello world\ndon't panic\n"
    check_interrupted(*terminal.interrupt())


def test_sentiment_answers_each_line_and_stops_on_ctrl_c(tmp_path):
    """The shipped English model answers; no training needed."""
    terminal = Terminal("sentiment", "--lang", "en", home=tmp_path)
    answer = r"(positive|negative)\t[01]\.\d{4}\n"
    terminal.type("A wonderful, moving film.\n")
    assert re.fullmatch(r"positive\t[01]\.\d{4}\n", terminal.read_until(answer, STARTUP_SECONDS))
    terminal.type("The worst film I have ever seen, a waste of time.\n")
    both = terminal.read_until(answer * 2, ANSWER_SECONDS)
    assert re.fullmatch(r"positive\t[01]\.\d{4}\nnegative\t[01]\.\d{4}\n", both), both
    time.sleep(0.5)  # the reader thread is blocked reading the terminal again
    check_interrupted(*terminal.interrupt(), before="sentiment: en -> shipped:en\n")  # the model it chose
