"""``python -m jobq``: the same as the ``jobq`` command."""

from jobq.cli import main

if __name__ == "__main__":
    main()
