#!/usr/bin/env python
"""Django's command-line utility for Clausebook."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clausebook.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as error:
        # A configuration problem is the operator's to fix, and the message says how: print it
        # without the traceback that would bury it.
        sys.exit(f"Clausebook is not configured: {error}")


if __name__ == "__main__":
    main()
