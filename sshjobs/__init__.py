"""sshjobs: run jobs over SSH on many hosts at once, built on asynciojobs and asyncssh."""

__version__ = "0.1.0"

__all__: list[str] = ["__version__"]
