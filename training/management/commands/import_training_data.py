"""`manage.py import_training_data DIR`: add a labelled folder (with_mask/, without_mask/) to the pool."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from training.services import pool


class Command(BaseCommand):
    help = "Import a folder with with_mask/ and without_mask/ subfolders into the training pool (deduplicated)."

    def add_arguments(self, parser):
        parser.add_argument("folder", type=Path)

    def handle(self, *args, folder: Path, **options):
        try:
            total = pool.count_images(folder)
        except pool.PoolError as exc:
            raise CommandError(str(exc)) from exc

        def progress(report: pool.ImportReport, total: int) -> None:
            if options["verbosity"] > 1 or report.total == total:
                self.stdout.write(f"\r{report.total}/{total}", ending="")
                self.stdout.flush()

        report = pool.import_items(pool.iter_folder(folder), total=total, progress=progress, every=100)
        self.stdout.write("")
        for error in report.errors[:20]:
            self.stderr.write(f"skipped {error}")
        self.stdout.write(
            self.style.SUCCESS(f"{report.added} added, {report.duplicates} duplicates, {len(report.errors)} failed")
        )
