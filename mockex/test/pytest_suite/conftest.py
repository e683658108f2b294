"""
Shared fixtures of the facade's pytest suite (run from trial by test_pytest_suite.py,
or directly: ``python -m pytest mockex/test/pytest_suite``).

``no_leaks`` (autouse): after each test, no mockex reactor thread is alive, no server is
left running, and this process holds no more file descriptors than before the test.
"""

from __future__ import annotations

import os
import threading
import time
from typing import Iterator

import pytest

from mockex.facade import live_servers

# Importing Klein installs Twisted's global reactor (an epoll and a waker pipe) as a side
# effect; do it now, so that the first server of the session does not look like a leak.
import mockex.server  # noqa: E402,F401


def mockex_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("mockex-")]


#: what a reactor or a connection holds: sockets, its waker pipe, its epoll instance
_IO_KINDS = ("socket:", "pipe:", "anon_inode:")


def describe_fds() -> list[str]:
    """This process's sockets, pipes and epoll/event descriptors (Linux)."""
    out = []
    for fd in sorted(os.listdir("/proc/self/fd"), key=int):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(_IO_KINDS):
            out.append(f"{fd} -> {target}")
    return out


def open_fds() -> int | None:
    try:
        return len(describe_fds())
    except OSError:  # not Linux
        return None


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "hands_over: the test leaves a server for the next test")


@pytest.fixture(autouse=True)
def no_leaks(request: pytest.FixtureRequest) -> Iterator[None]:
    if "mockex_session_server" in request.fixturenames or request.node.get_closest_marker("hands_over"):
        # the session server (and its thread) outlive the test by design
        yield
        return
    before_threads = {t.ident for t in mockex_threads()}
    before_fds = open_fds()
    before_list = describe_fds() if before_fds is not None else []  # noqa: F841
    yield
    # fixtures of this test (mockex_server...) are torn down before this point
    deadline = time.monotonic() + 5
    def new_threads() -> list[threading.Thread]:
        return [t for t in mockex_threads() if t.ident not in before_threads]

    while new_threads() and time.monotonic() < deadline:
        time.sleep(0.01)
    left = new_threads()
    assert left == [], f"reactor threads left running: {left}"
    assert [s for s in live_servers() if s.reactor_thread and s.reactor_thread.ident not in before_threads] == []
    if before_fds is not None:
        # ccxt/aiohttp may keep a resolver or selector for a moment; allow them to go
        while open_fds() > before_fds and time.monotonic() < deadline:
            time.sleep(0.01)
        assert open_fds() <= before_fds, (
            f"file descriptors: {before_fds} before, {open_fds()} after: "
            f"{sorted(set(describe_fds()) - set(before_list))}"
        )
