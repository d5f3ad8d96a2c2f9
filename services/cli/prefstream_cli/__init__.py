"""The prefstream command line: the launcher that wires libraries and services together."""
