"""Async NeMo platform client: Entity Store, Data Store (HF Hub API), Customizer, Deployments."""
