"""The web view: every job live with its curves, evaluated models, datasets and dead
letters, read from the topics (no consumer group) and rebuilt from them at every start."""
