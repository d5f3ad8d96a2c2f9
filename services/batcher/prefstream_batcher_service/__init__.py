"""Batcher service: pairs topic to versioned DPO datasets."""
