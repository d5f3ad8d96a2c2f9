"""Wait until a Kafka-protocol broker really answers.

A TCP connect is not enough: Apache Kafka accepts connections on the controller port long
before the broker side is unfenced, and a process that crashes right after ``listen()``
looks alive too. So readiness means one full Metadata round-trip with aiokafka that lists
at least one broker. A TCP probe runs first only so that aiokafka does not log a
connection error on every poll while the broker is still booting.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import time
from collections.abc import Callable

from aiokafka.client import AIOKafkaClient

from prefstream_kafka.local_brokers.errors import BrokerNotReadyError

#: Called between polls; raises (e.g. BrokerStartError) when waiting is pointless.
AliveCheck = Callable[[], None]

_POLL_INTERVAL_S = 0.1
_MAX_PROBE_TIMEOUT_S = 5.0


async def metadata_round_trip(bootstrap_servers: str, *, timeout_s: float = 5.0) -> int:
    """Send one Metadata request to ``bootstrap_servers``; return how many brokers it lists.

    Raises ``BrokerNotReadyError`` when the broker cannot be reached, does not answer in
    time, or answers with no brokers (a cluster that is still forming).
    """
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap_servers,
        client_id="prefstream-ready-probe",
        request_timeout_ms=max(int(timeout_s * 1000), 100),
    )
    try:
        await asyncio.wait_for(client.bootstrap(), timeout=timeout_s)
        brokers = client.cluster.brokers()
        if not brokers:
            raise BrokerNotReadyError(f"{bootstrap_servers} answered metadata with no brokers")
        return len(brokers)
    except BrokerNotReadyError:
        raise
    except Exception as exc:  # aiokafka raises several unrelated types here
        raise BrokerNotReadyError(
            f"metadata request to {bootstrap_servers} failed: {exc!r}"
        ) from exc
    finally:
        await client.close()


async def _tcp_accepts(host: str, port: int, timeout_s: float) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout_s)
    except (OSError, TimeoutError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


def _first_host_port(bootstrap_servers: str) -> tuple[str, int]:
    first = bootstrap_servers.split(",")[0].strip()
    first = first.split("://", 1)[-1]
    host, _, port = first.rpartition(":")
    return host.strip("[]") or "127.0.0.1", int(port)


async def wait_until_ready_async(
    bootstrap_servers: str,
    *,
    timeout_s: float = 30.0,
    check_alive: AliveCheck | None = None,
) -> None:
    """Poll until a metadata round-trip succeeds, or raise ``BrokerNotReadyError``.

    ``check_alive`` is called before every attempt so that a broker process that died
    fails the wait at once instead of after the whole deadline.
    """
    host, port = _first_host_port(bootstrap_servers)
    deadline = time.monotonic() + timeout_s
    last_error = "no answer yet"
    while True:
        if check_alive is not None:
            check_alive()
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise BrokerNotReadyError(
                f"Kafka broker at {bootstrap_servers} did not answer a metadata request "
                f"within {timeout_s:.0f}s (last error: {last_error})"
            )
        probe_timeout = min(remaining, _MAX_PROBE_TIMEOUT_S)
        if await _tcp_accepts(host, port, probe_timeout):
            try:
                await metadata_round_trip(bootstrap_servers, timeout_s=probe_timeout)
                return
            except BrokerNotReadyError as exc:
                last_error = str(exc)
        else:
            last_error = f"connection to {host}:{port} refused or timed out"
        await asyncio.sleep(min(_POLL_INTERVAL_S, max(deadline - time.monotonic(), 0)))


def wait_until_ready(
    bootstrap_servers: str,
    *,
    timeout_s: float = 30.0,
    check_alive: AliveCheck | None = None,
) -> None:
    """Blocking form of :func:`wait_until_ready_async`.

    Runs its own event loop in a helper thread, so it is safe to call from synchronous
    code that happens to run inside an event loop (pytest fixtures, CLIs).
    """
    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="kafka-ready")
    try:
        pool.submit(
            asyncio.run,
            wait_until_ready_async(bootstrap_servers, timeout_s=timeout_s, check_alive=check_alive),
        ).result()
    finally:
        # Not waiting: if the caller was interrupted (Ctrl-C), it stops the broker next,
        # and check_alive then ends the helper thread at its next poll.
        pool.shutdown(wait=False)
