"""Board consoles over the network, as a HIL farm serves them: ser2net exports a serial port
as RFC 2217 on TCP, and every upurse port option takes `rfc2217://host:port` (pyserial URLs).

    with Ser2net({"terminal": "/dev/ttyACM0"}, workdir) as s:
        s.urls["terminal"]                       # rfc2217://127.0.0.1:PORT?ign_set_control

Debian's ser2net 4 reads a YAML config: one `connection` per console, an `accepter` (telnet
with RFC 2217 on TCP, `nodelay` so a short reply is not held back by Nagle, bound to
127.0.0.1) and a `connector` (the device at 115200 8N1; `local` ignores modem lines, which
ptys and many USB bridges lack). On a labgrid farm the exporter publishes such a port as a
NetworkSerialPort of a place; `labgrid_url` turns the acquired resource into the URL.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path


def free_port() -> int:
    """A TCP port on 127.0.0.1 nobody listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def ser2net_config(consoles: dict[str, tuple[str, int]], host: str = "127.0.0.1") -> str:
    """ser2net 4 YAML: each console name -> (device, TCP port), RFC 2217 on `host`."""
    return "\n".join(f"connection: &{name}\n"
                     f"  accepter: telnet(rfc2217),tcp(nodelay),{host},{port}\n"
                     f"  connector: serialdev,{device},115200n81,local\n"
                     "  options:\n    kickolduser: true\n"
                     for name, (device, port) in consoles.items())


def labgrid_url(target, name: str) -> str:
    """The pyserial URL of the NetworkSerialPort `name` of a labgrid target (its place
    acquired): RFC 2217 without waiting for modem-line acknowledgements, which ptys and many
    USB bridges behind ser2net never give; a `raw` port is plain TCP."""
    from labgrid.resource import NetworkSerialPort

    port = target.get_resource(NetworkSerialPort, name=name)
    if port.protocol == "raw":
        return f"socket://{port.host}:{port.port}"
    return f"rfc2217://{port.host}:{port.port}?ign_set_control"


class Service:
    """A server in the foreground, in its own session, logging to `log`; up once `ready()`
    holds, ended by its PID."""

    def __init__(self, argv: list[str], log: Path, *, cwd: Path | None = None,
                 env: dict[str, str] | None = None, ready=lambda: True) -> None:
        self.argv, self.log, self.cwd, self.env, self.ready = argv, Path(log), cwd, env, ready
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20.0) -> Service:
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(self.argv, cwd=self.cwd, env=self.env,
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log.read_text(errors="replace")[-800:]
                raise RuntimeError(f"{Path(self.argv[0]).name} did not come up:\n{tail}")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()

    def __enter__(self) -> Service:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Ser2net(Service):
    """ser2net exporting `devices` (name -> device) on 127.0.0.1, one TCP port each."""

    def __init__(self, devices: dict[str, str], workdir: Path) -> None:
        workdir = Path(workdir)
        self.ports = {name: free_port() for name in devices}
        self.urls = {n: f"rfc2217://127.0.0.1:{p}?ign_set_control" for n, p in self.ports.items()}
        config = workdir / "ser2net.yaml"
        config.write_text(ser2net_config({n: (d, self.ports[n]) for n, d in devices.items()}))
        super().__init__(["ser2net", "-n", "-u", "-c", str(config), "-P",
                          str(workdir / "ser2net.pid")], workdir / "ser2net.log",
                         ready=lambda: all(listening(p) for p in self.ports.values()))
