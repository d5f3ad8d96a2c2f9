"""Pairing service: candidates topic to DPO pairs."""
