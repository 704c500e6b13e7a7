"""The ``lai`` command: thin wrappers that parse arguments and call the stage packages.

Each module of this package holds the commands of one stage and registers them on the root
application when imported here.
"""

from lai.cli import archive, automl, data, portal, release, validation  # noqa: F401  (registers their commands)
from lai.cli.root import app, parse_duration

__all__ = ["app", "parse_duration"]
