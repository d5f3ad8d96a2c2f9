"""Durable state in DuckDB: pairing windows and pairs, batcher pairs and cuts, submitter ledger."""
