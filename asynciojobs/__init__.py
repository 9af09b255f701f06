"""asynciojobs: a scheduler of asyncio jobs with dependencies (no SSH in here)."""

__version__ = "0.1.0"

__all__: list[str] = ["__version__"]
