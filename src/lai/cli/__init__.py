"""The ``lai`` command: thin wrappers that parse arguments and call the stage packages.

Each module of this package holds the commands of one stage and registers them on the root
application when imported here, in the order of the data flow (which is the order of ``lai --help``).
"""

from importlib import import_module

from lai.cli.root import app, parse_duration

STAGE_MODULES = ("data", "automl", "validation", "archive", "release", "portal")
for _module in STAGE_MODULES:
    import_module(f"lai.cli.{_module}")

__all__ = ["STAGE_MODULES", "app", "parse_duration"]
