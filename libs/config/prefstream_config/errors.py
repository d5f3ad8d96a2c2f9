"""Configuration errors that tell the user which key is wrong and what to do."""


class ConfigError(ValueError):
    """Raised for any invalid configuration; the message is meant for the user as is."""
