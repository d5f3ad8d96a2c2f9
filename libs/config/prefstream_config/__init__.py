"""The one YAML configuration: NAT section names, env and -o overrides, secret masking."""
