"""NAT bridge: forward NeMo Agent Toolkit TTC_END candidate steps to prefstream.

Importing this package does not register anything with NAT; NAT loads
``prefstream_nat.register`` through the ``nat.components`` entry point.
"""

from prefstream_nat.bridge import StepBridge, subscribe
from prefstream_nat.forwarder import CandidateForwarder
from prefstream_nat.mapping import BridgeStats, Routing, candidate_from_step, nat_prompt

__all__ = [
    "BridgeStats",
    "CandidateForwarder",
    "Routing",
    "StepBridge",
    "candidate_from_step",
    "nat_prompt",
    "subscribe",
]
