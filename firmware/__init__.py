"""centralita firmware: configuration, assembly of the system, lifecycle, console and CLI."""

__version__ = "0.1.0"
