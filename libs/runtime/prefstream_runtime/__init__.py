"""What every service process needs: structured logs, health/readiness/metrics endpoints, graceful shutdown."""
