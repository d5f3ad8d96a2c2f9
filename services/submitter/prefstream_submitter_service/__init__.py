"""Submitter service: datasets to NeMo Customizer jobs and job-status events."""
