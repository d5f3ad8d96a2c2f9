"""Apply a plan's faults to a running :class:`~tests.chaos.stack.Stack` and record them.

- ``kill_<component>``: SIGKILL, then a restart after the fault's downtime (the broker on
  the same log dir and ports);
- ``nmp_*``: nmp-local's runtime fault config (``PUT /v1/nmp-local/faults``) holds the
  union of the active nmp faults; it is re-applied after nmp-local restarts (runtime
  faults are not persisted there);
- ``disk_full``: the data tmpfs filled to ENOSPC for the fault's duration, then freed.

Each fault also opens an *excuse* interval for the consumer groups it holds up, which the
stall check subtracts (a partition may not progress while its consumer is dead).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.chaos.schedule import NMP_FAULTS, Fault
from tests.chaos.stack import Stack

ALL_GROUPS = frozenset({"pairing", "batcher", "submitter"})
_HOLDS: dict[str, frozenset[str]] = {
    "kill_pairing": frozenset({"pairing"}),
    "kill_batcher": frozenset({"batcher"}),
    "kill_submitter": frozenset({"submitter"}),
    "kill_nmp_local": frozenset({"submitter"}),
    "kill_broker": ALL_GROUPS,
    "disk_full": ALL_GROUPS,
}
_COMPONENT = {
    "kill_pairing": "pairing",
    "kill_batcher": "batcher",
    "kill_submitter": "submitter",
    "kill_nmp_local": "nmp_local",
    "kill_broker": "broker",
}


@dataclass
class Injected:
    fault: Fault
    start_s: float
    end_s: float | None = None
    skipped: str = ""
    note: str = ""


@dataclass
class Excuse:
    groups: frozenset[str]
    start_s: float
    end_s: float | None = None


@dataclass
class Injector:
    stack: Stack
    injected: list[Injected] = field(default_factory=list)
    excuses: list[Excuse] = field(default_factory=list)
    _nmp_active: dict[int, Fault] = field(default_factory=dict)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _disk_full: bool = False

    async def run(self, faults: Iterable[Fault]) -> None:
        """Inject each fault at its time (offset from the stack's t0); returns when every
        fault has ended and its component is restarted."""
        for fault in faults:
            wait = fault.at_s - self.stack.now()
            if wait > 0:
                await asyncio.sleep(wait)  # the schedule decides WHEN to inject
            self._tasks.append(asyncio.create_task(self._apply(fault)))
        await asyncio.gather(*self._tasks)

    def counts(self) -> dict[str, tuple[int, int]]:
        """Per kind: (injected, skipped)."""
        out: dict[str, tuple[int, int]] = {}
        for i in self.injected:
            done, skipped = out.get(i.fault.kind, (0, 0))
            out[i.fault.kind] = (done + (not i.skipped), skipped + bool(i.skipped))
        return out

    async def _apply(self, fault: Fault) -> None:
        rec = Injected(fault, self.stack.now())
        self.injected.append(rec)
        log = self.stack.log
        try:
            if fault.kind in _COMPONENT:
                await self._kill(fault, rec)
            elif fault.kind in NMP_FAULTS:
                await self._nmp(fault, rec)
            elif fault.kind == "disk_full":
                await self._disk(fault, rec)
            else:
                rec.skipped = f"unknown fault kind {fault.kind}"
        except Exception as exc:
            rec.note = f"{type(exc).__name__}: {exc}"
            log(f"fault {fault.describe()} failed: {rec.note}")
        rec.end_s = self.stack.now()
        log(f"t+{rec.start_s:6.1f}s..{rec.end_s:6.1f}s {fault.kind} {rec.skipped or rec.note}")

    def _excuse(self, kind: str) -> Excuse:
        e = Excuse(_HOLDS.get(kind, frozenset()), self.stack.now())
        self.excuses.append(e)
        return e

    async def _kill(self, fault: Fault, rec: Injected) -> None:
        name = _COMPONENT[fault.kind]
        comp = self.stack.components()[name]
        if name in self.stack.down:
            rec.skipped = f"{name} already down"
            return
        excuse = self._excuse(fault.kind)
        self.stack.down.add(name)
        try:
            comp.kill()
            if other := fault.param("restart_during"):
                # A service (re)started while Kafka is unreachable must wait, not exit.
                svc = self.stack.components()[other]
                if other not in self.stack.down:
                    svc.kill()
                    await svc.start()
                    rec.note = f"{other} restarted while the broker was down"
            await asyncio.sleep(fault.duration_s)  # downtime before the restart
            await comp.start()
        finally:
            self.stack.down.discard(name)
            excuse.end_s = self.stack.now()
        if name == "nmp_local":
            await self._push_nmp()

    async def _nmp(self, fault: Fault, rec: Injected) -> None:
        self._nmp_active[id(fault)] = fault
        try:
            rec.note = await self._push_nmp()
            await asyncio.sleep(fault.duration_s)  # how long the fault lasts
        finally:
            self._nmp_active.pop(id(fault), None)
            await self._push_nmp()

    def nmp_config(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for f in self._nmp_active.values():
            if f.kind == "nmp_5xx":
                body["error_rate"] = max(body.get("error_rate", 0.0), f.param("error_rate"))
                body["error_status"] = f.param("error_status", 503)
            elif f.kind == "nmp_latency":
                body["latency_ms"] = max(body.get("latency_ms", 0), f.param("latency_ms"))
            elif f.kind == "nmp_drop_response":
                body["drop_response_rate"] = {"POST *": f.param("drop_response_rate")}
            elif f.kind == "nmp_fail_jobs":
                body["fail_jobs_at_percent"] = f.param("fail_jobs_at_percent")
        return body

    async def _push_nmp(self) -> str:
        """PUT the active nmp faults; an nmp-local that is down gets them on restart."""
        if not self.stack.nmp.is_running:
            return "nmp-local down: applied on restart"
        url = f"{self.stack.nmp.proc.base_url}/v1/nmp-local/faults"
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                r = await client.put(url, json=self.nmp_config())
                r.raise_for_status()
        except httpx.HTTPError as exc:
            return f"PUT faults failed: {exc}"
        return ""

    async def _disk(self, fault: Fault, rec: Injected) -> None:
        tmpfs = self.stack.tmpfs
        if not tmpfs.mounted:
            rec.skipped = tmpfs.why_not
            return
        if self._disk_full:
            rec.skipped = "disk already full (previous disk_full still active)"
            return
        self._disk_full = True
        excuse = self._excuse(fault.kind)
        try:
            taken = await asyncio.to_thread(tmpfs.fill)
            rec.note = f"filled {taken / 1e6:.0f} MB"
            await asyncio.sleep(fault.duration_s)  # how long the disk stays full
        finally:
            tmpfs.release()
            self._disk_full = False
            excuse.end_s = self.stack.now()

    async def heal(self) -> None:
        """End of the fault phase: no nmp fault, free disk, everything running."""
        for t in self._tasks:
            if not t.done():
                t.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await t
        self._nmp_active.clear()
        self.stack.tmpfs.release()
        self.stack.down.clear()
        await self.stack.ensure_up()
        await self._push_nmp()
