"""`manage.py train_mask_model --data DIR`: train, evaluate and export the mask classifier offline."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from training.ml.data import DataError


class Command(BaseCommand):
    help = (
        "Train the mask classifier on DIR (the shared mask-classification folder with its manifest, "
        "or any folder with with_mask/ and without_mask/ subfolders) and export it to --out."
    )

    def add_arguments(self, parser):
        from training.ml.train import DEFAULT_EPOCHS, DEFAULT_INPUT_SIZE

        parser.add_argument("--data", required=True, type=Path, help="data folder")
        parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, help="max fine-tuning epochs")
        parser.add_argument("--input-size", type=int, default=DEFAULT_INPUT_SIZE, help="crop side in px")
        parser.add_argument("--out", type=Path, default=Path("var/models/mask_classifier"), help="output folder")
        parser.add_argument("--initial-model", type=Path, help="a .keras model from an earlier run to fine-tune")
        parser.add_argument("--dev-dir", type=Path, help="also score ground-truth crops of this detection set")
        parser.add_argument("--no-imagenet", action="store_true", help="start from random weights")
        parser.add_argument(
            "--extra-dev-half",
            type=Path,
            help="add the street faces of the EVEN half of this mask-detection-dev-style folder to training",
        )

    def handle(self, *args, **options):
        from training.ml.train import TrainOptions, train_classifier

        if options["epochs"] < 0:
            raise CommandError("--epochs must be >= 0")
        if not 32 <= options["input_size"] <= 224:
            raise CommandError("--input-size must be between 32 and 224")

        def on_epoch(epoch: int, logs: dict) -> None:
            figures = ", ".join(f"{k} {v:.4f}" for k, v in logs.items() if isinstance(v, float))
            self.stdout.write(f"epoch {epoch}/{logs['epochs']} ({logs['phase']}): {figures}")

        try:
            choices = TrainOptions(
                epochs=options["epochs"],
                input_size=options["input_size"],
                initial_model=options["initial_model"],
                dev_dir=options["dev_dir"],
                imagenet=not options["no_imagenet"],
                extra_dev_half=options["extra_dev_half"],
                command="python manage.py train_mask_model " + " ".join(sys.argv[2:]),
                verbose=1 if options["verbosity"] >= 1 else 0,
            )
            result = train_classifier(options["data"], options["out"], choices, on_epoch=on_epoch)
        except (DataError, ValueError) as exc:
            raise CommandError(str(exc)) from exc
        val = result.metrics["val_tflite"]
        self.stdout.write(json.dumps({"model": str(result.model_path), "card": str(result.card)}))
        self.stdout.write(
            self.style.SUCCESS(
                f"val accuracy {val['accuracy']:.4f} (TFLite), ROC AUC {val['roc_auc']:.4f}, ECE {val['ece']:.4f}"
            )
        )
