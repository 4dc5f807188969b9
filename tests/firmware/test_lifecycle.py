"""`centralita run` as a process: start-up, the console, failures at start, signals, systemd."""

from __future__ import annotations

import re
import signal
from collections.abc import Callable

from tests.support import GatewayProcess, run_centralita, short_tempdir

VERSION_RE = re.compile(r"^centralita \d+\.\d+\.\d+ on Linux \S+, Python 3\.\d+\.\d+, media (compiled|pure-python), "
                        r"event loop (uvloop|asyncio)$")


def test_console_answers_core_show_version(gateway: GatewayProcess) -> None:
    result = run_centralita("console", "--control", str(gateway.control), "-c", "core show version")
    assert result.returncode == 0, result.stderr
    assert VERSION_RE.match(result.stdout.strip()), result.stdout


def test_console_finds_the_socket_through_the_configuration(gateway: GatewayProcess) -> None:
    result = run_centralita("console", "--set", f'system.data_dir="{gateway.data_dir}"',
                            "-c", "core show uptime")
    assert result.returncode == 0, result.stderr
    assert re.match(r"System uptime: \d+ seconds?\nLast reload: \d+ seconds?$", result.stdout.strip())


def test_unknown_command_fails_with_a_hint(gateway: GatewayProcess) -> None:
    result = run_centralita("console", "--control", str(gateway.control), "-c", "sip shwo peers")
    assert result.returncode == 1
    assert result.stdout.strip() == "No such command 'sip shwo peers' (type 'help' for a list)"


def test_help_lists_the_core_commands(gateway: GatewayProcess) -> None:
    ok, output = gateway.console("help core show")
    assert ok
    commands = [line.split(" -- ")[0].strip() for line in output.splitlines()]
    assert commands == ["core show application", "core show applications", "core show channel",
                        "core show channels", "core show function", "core show functions", "core show uptime",
                        "core show version"]


def test_core_show_channels_on_an_idle_gateway(gateway: GatewayProcess) -> None:
    ok, output = gateway.console("core show channels")
    assert ok
    assert output.splitlines() == [
        "Channel              Location             State   Application(Data)             ",
        "0 active channels", "0 active calls", "0 calls processed",
    ]


def test_core_set_debug_turns_debug_logging_on(gateway: GatewayProcess) -> None:
    assert gateway.console("core set debug on") == (True, "Core debug is now on")
    gateway.console("core show uptime")
    assert gateway.console("core set debug off console") == (True, "Debug logging for console is now off")
    assert gateway.console("core set debug sometimes")[0] is False
    assert gateway.stop() == 0
    assert "DEBUG console: command from control socket: core show uptime" in gateway.stderr


def test_second_instance_on_the_same_data_dir_exits_with_one_line(gateway: GatewayProcess) -> None:
    second = run_centralita("run", "--set", f'system.data_dir="{gateway.data_dir}"')
    assert second.returncode == 1
    pid = gateway.process.pid if gateway.process else 0
    assert second.stderr.splitlines() == [
        f"system: data_dir {gateway.data_dir} is in use by another centralita (pid {pid})"
    ]


def test_second_instance_on_the_same_control_socket_exits_with_one_line(gateway: GatewayProcess) -> None:
    other = short_tempdir()
    second = run_centralita("run", "--set", f'system.data_dir="{other}"', "--control", str(gateway.control))
    assert second.returncode == 1
    assert second.stderr.splitlines() == [f"control: another centralita is listening on {gateway.control}"]
    # The running instance is untouched.
    assert gateway.console("core show version")[0]


def test_stale_control_socket_of_a_killed_instance_is_replaced(
        gateway_factory: Callable[..., GatewayProcess]) -> None:
    first = gateway_factory()
    assert first.stop(signal.SIGKILL) == -signal.SIGKILL
    assert first.control.exists()
    second = gateway_factory("--control", str(first.control))
    second.control = first.control
    assert second.console("core show version")[0]


def test_sigterm_stops_gracefully_with_status_0(gateway: GatewayProcess) -> None:
    assert gateway.stop(signal.SIGTERM) == 0
    assert "stopping (SIGTERM)" in gateway.stderr
    assert "shutdown complete" in gateway.stderr
    assert not gateway.control.exists()
    assert "Traceback" not in gateway.stderr


def test_sigint_stops_gracefully_with_status_0(gateway: GatewayProcess) -> None:
    assert gateway.stop(signal.SIGINT) == 0
    assert "stopping (SIGINT)" in gateway.stderr


def test_core_stop_gracefully_from_the_console(gateway: GatewayProcess) -> None:
    assert gateway.console("core stop gracefully") == (True, "Shutting down gracefully")
    assert gateway.wait() == 0
    assert "stopping (core stop gracefully)" in gateway.stderr


def test_systemd_notifications(gateway_factory: Callable[..., GatewayProcess]) -> None:
    gateway = gateway_factory(env={"WATCHDOG_USEC": "200000"})
    ready = gateway.notify.wait_for("READY", "1")
    assert ready["STATUS"] == "ready"
    assert int(ready["MAINPID"]) == (gateway.process.pid if gateway.process else 0)
    # Pings at half the watchdog deadline: several within a second.
    gateway.notify.wait_for("WATCHDOG", "1", timeout=2)
    watchdogs_before = sum("WATCHDOG" in m for m in gateway.notify.messages)
    gateway.notify.messages.clear()
    gateway.notify.wait_for("WATCHDOG", "1", timeout=2)
    assert watchdogs_before >= 1
    gateway.process.send_signal(signal.SIGTERM)  # type: ignore[union-attr]
    assert gateway.notify.wait_for("STOPPING", "1")["STATUS"] == "stopping (SIGTERM)"
    assert gateway.wait() == 0


def test_unopenable_console_device_stops_start_up(gateway_factory: Callable[..., GatewayProcess]) -> None:
    gateway = gateway_factory("--console", "/nonexistent/ttyAMA0", wait_ready=False)
    assert gateway.wait() == 1
    assert gateway.stderr.splitlines() == [
        "console: cannot open console device /nonexistent/ttyAMA0: no such file or directory"
    ]


def test_data_dir_that_cannot_be_created_stops_start_up(tmp_path_factory: object) -> None:
    blocker = short_tempdir() / "file"
    blocker.write_text("not a directory")
    result = run_centralita("run", "--set", f'system.data_dir="{blocker}/data"')
    assert result.returncode == 1
    assert result.stderr.splitlines() == [f"system: cannot create data_dir {blocker}/data: not a directory"]


def test_bad_configuration_stops_run_with_status_2() -> None:
    result = run_centralita("run", "--set", "sip.port=65536")
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["--set sip.port=65536: sip.port: 65536 is out of range (0..65535)"]


def test_console_without_a_gateway_says_so() -> None:
    path = short_tempdir() / "control.sock"
    result = run_centralita("console", "--control", str(path), "-c", "core show version")
    assert result.returncode == 1
    assert result.stderr.strip() == (f"centralita console: cannot connect to {path}: "
                                     "No such file or directory (is centralita running?)")


def test_console_on_the_terminal_when_stdin_is_a_tty() -> None:
    import os
    import select
    import subprocess
    import time

    from tests.support import REPO, centralita_command

    master, slave = os.openpty()
    data_dir = short_tempdir() / "data"
    process = subprocess.Popen(
        centralita_command("run", "--set", f'system.data_dir="{data_dir}"', "--set", "sip.bind=127.0.0.1",
                           "--set", "sip.port=0"),
        stdin=slave, stdout=slave, stderr=subprocess.PIPE, cwd=REPO, text=True,
    )
    os.close(slave)

    def read_until(marker: bytes, timeout: float = 15.0) -> bytes:
        seen = b""
        deadline = time.monotonic() + timeout
        while marker not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                seen += os.read(master, 4096)
        assert marker in seen, seen
        return seen

    try:
        read_until(b"centralita*CLI> ")
        os.write(master, b"core show version\n")
        assert re.search(rb"centralita \d+\.\d+\.\d+ on Linux", read_until(b"event loop"))
        os.write(master, b"core stop now\n")
        read_until(b"Shutting down now")
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        os.close(master)


def test_journald_format_when_stderr_is_the_journal(tmp_path_factory: object) -> None:
    import os
    import subprocess

    from tests.support import REPO, centralita_command

    workdir = short_tempdir()
    stderr_path = workdir / "stderr"
    with stderr_path.open("w") as stderr:
        st = os.fstat(stderr.fileno())
        env = {**os.environ, "JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"}
        process = subprocess.Popen(
            centralita_command("run", "--set", f'system.data_dir="{workdir / "data"}"', "--set", "sip.bind=127.0.0.1",
                               "--set", "sip.port=0"),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr, env=env, cwd=REPO,
        )
        control = workdir / "data" / "control.sock"
        from tests.support import wait_for_path

        wait_for_path(control)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=15) == 0
    lines = stderr_path.read_text().splitlines()
    assert "<6>system: shutdown complete" in lines
    assert all(re.match(r"<[0-7]>\w+: ", line) for line in lines), lines
