"""`manage.py analyze`: detect faces, masks and (with --gallery) people in image files.

Thin wrapper: the work is in `detection.engine.cli.run_analyze`; no database is needed.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from detection.engine.cli import CliError, run_analyze
from detection.engine.pipeline import MODES


class Command(BaseCommand):
    help = "Analyse image files or folders: faces, mask state, identities. --json prints one object per line."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders (recursive)")
        parser.add_argument("--json", action="store_true", help="one JSON object per image per line")
        parser.add_argument("--gallery", metavar="DIR", help="enrol DIR/<person>/<photos> in memory")
        parser.add_argument("--no-recognize", action="store_true", help="skip face recognition")
        parser.add_argument("--mode", choices=MODES, default="accurate", help="accurate (default) or fast")
        parser.add_argument("--annotate", metavar="OUT_DIR", help="write annotated copies here")

    def handle(self, *args, **options):
        try:
            status = run_analyze(
                options["paths"],
                json_output=options["json"],
                gallery_dir=options["gallery"],
                recognize=not options["no_recognize"],
                mode=options["mode"],
                annotate_dir=options["annotate"],
                stdout=self.stdout,
                stderr=self.stderr,
            )
        except CliError as exc:
            raise CommandError(str(exc)) from exc
        if status:
            sys.exit(status)
