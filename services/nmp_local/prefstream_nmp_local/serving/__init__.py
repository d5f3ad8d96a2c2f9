"""Real serving for model deployments whose model has weights in the Data Store.

``protocol`` (pure: OpenAI request parsing, stop handling, response shapes), ``engine``
(torch; imported only when a model loads), ``served_models`` (load state per deployment,
background loading from ``training.model_files`` snapshots) and ``openai_routes`` (the HTTP
surface).
"""
