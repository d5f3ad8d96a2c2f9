"""Pure DPO pairing rules and window bookkeeping (no I/O)."""
