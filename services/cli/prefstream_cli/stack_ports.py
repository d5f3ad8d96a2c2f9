"""Every port ``prefstream up`` will bind, checked before anything starts.

A service that cannot bind its port exits, and a supervisor would restart it forever;
saying "port N is in use by ..." once, before the broker starts, is what an operator can
act on.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass

import click
import psutil
from prefstream_config import PrefstreamConfig

ANY_HOST = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class StackPort:
    """One listening socket of the stack and the ``-o`` key that moves it."""

    key: str
    what: str
    host: str
    port: int


class PortInUse(click.ClickException):
    """A port the stack needs is taken or set twice; the message says what to change (a
    click error, so that every command starting the stack reports it without a traceback)."""


def stack_ports(config: PrefstreamConfig, *, with_nmp_local: bool = True) -> list[StackPort]:
    """The ports the stack binds with ``config`` (port 0 means "any free one": skipped)."""
    ports = []
    if config.kafka.bootstrap_servers is None:
        ports.append(
            StackPort("kafka.embedded_port", "broker", "127.0.0.1", config.kafka.embedded_port)
        )
    if with_nmp_local:
        ports.append(
            StackPort("nmp_local.port", "nmp-local", config.nmp_local.host, config.nmp_local.port)
        )
    for name, section in (
        ("pairing", config.pairing),
        ("batcher", config.batcher),
        ("submitter", config.submitter),
    ):
        ports.append(StackPort(f"{name}.http_port", name, section.http_host, section.http_port))
    if config.ui.enabled:
        ports.append(
            StackPort("ui.http_port", "web view", config.ui.http_host, config.ui.http_port)
        )
    return [p for p in ports if p.port]


def duplicate_ports(ports: list[StackPort]) -> list[str]:
    """Two parts of the stack set to one port on overlapping addresses."""
    problems = []
    for i, later in enumerate(ports):
        for earlier in ports[:i]:
            if earlier.port == later.port and _overlap(earlier.host, later.host):
                problems.append(
                    f"port {later.port} is set for both {earlier.what} ({earlier.key}) and "
                    f"{later.what} ({later.key}); choose another with -o {later.key} PORT"
                )
                break
    return problems


def check_ports(ports: list[StackPort]) -> None:
    """Raise :class:`PortInUse` naming every port that is set twice or cannot be bound."""
    problems = duplicate_ports(ports)
    for p in ports:
        if not _bindable(p.host, p.port):
            problems.append(
                f"port {p.port} ({p.what}) is in use by {port_owner(p.port)}; "
                f"choose another with -o {p.key} PORT"
            )
    if problems:
        raise PortInUse("; ".join(problems))


def port_owner(port: int) -> str:
    """Who listens on ``port``: a pid and command line where this user may see them."""
    with contextlib.suppress(psutil.Error, OSError):
        for conn in psutil.net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                if conn.pid is None:
                    break
                with contextlib.suppress(psutil.Error):
                    command = " ".join(psutil.Process(conn.pid).cmdline())[:120]
                    return f"pid {conn.pid} ({command})"
                return f"pid {conn.pid}"
    return "another process"


def _overlap(a: str, b: str) -> bool:
    return a == b or a in ANY_HOST or b in ANY_HOST


def _bindable(host: str, port: int) -> bool:
    """Bind as the servers do (SO_REUSEADDR: a port in TIME_WAIT counts as free)."""
    try:
        infos = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        return True  # the service itself will say that the host is wrong
    family, kind, proto, _, address = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError:
            return False
        return True
