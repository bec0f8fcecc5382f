#!/usr/bin/env python
"""Django's command-line utility."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "companion.settings")
    from django.core.management import execute_from_command_line

    from companion.runtime.files import var_dir_prepare

    # var/ and the embedded secret key, before any command opens the SQLite file there (settings
    # only read them: importing settings writes nothing).
    var_dir_prepare()

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
