"""REST API serializers of the app: request bodies and resource representations, used by its viewsets."""

from __future__ import annotations

from rest_framework import serializers

from training.models import ModelVersion, TrainingJob
from training.services import jobs


class ModelVersionSerializer(serializers.ModelSerializer):
    label = serializers.CharField(source="__str__", read_only=True)

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "number",
            "label",
            "status",
            "input_size",
            "sha256",
            "metrics",
            "gate_report",
            "parent",
            "job",
            "created_at",
            "activated_at",
            "model_card",
        ]
        read_only_fields = fields


class TrainingJobSerializer(serializers.ModelSerializer):
    created_by = serializers.CharField(source="created_by.username", read_only=True, default=None)

    class Meta:
        model = TrainingJob
        fields = [
            "id",
            "status",
            "trigger",
            "created_by",
            "epochs",
            "input_size",
            "options",
            "progress",
            "history",
            "log",
            "error",
            "parent_version",
            "result_version",
            "heartbeat_at",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = [f for f in fields if f not in ("epochs", "input_size", "options")]
        extra_kwargs = {
            "epochs": {"required": False, "default": None, "allow_null": True},
            "input_size": {"required": False, "default": 0},
        }

    def create(self, validated_data):
        try:
            return jobs.create_job(self.context["request"].user, **validated_data)
        except jobs.JobError as exc:
            raise serializers.ValidationError({"detail": str(exc)}) from exc
