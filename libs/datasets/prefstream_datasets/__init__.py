"""Pure dataset cutting: dedup, sampling, split, NeMo/TRL row formats, streaming file writes."""
