"""``python -m sshjobs ...`` is the ``sshjobs`` command."""

from sshjobs.cli import main

if __name__ == "__main__":
    main()
