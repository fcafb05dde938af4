"""Cameras over the REST API: every user reads, Admins create, change and delete."""

from __future__ import annotations

from rest_framework import serializers, viewsets

from accounts.permissions import IsAdminOrReadOnly
from detection.models import Camera
from detection.views.live import CameraForm


class CameraSerializer(serializers.ModelSerializer):
    class Meta:
        model = Camera
        fields = ["id", "name", "location", "kind", "url", "enabled", "max_fps", "created_at"]
        read_only_fields = ["id", "created_at"]

    def validate(self, attrs):
        """The page's form rules, so API and page accept the same cameras."""
        fields = CameraForm.Meta.fields
        if self.instance is not None:
            current = {f: getattr(self.instance, f) for f in fields}
        else:
            current = {f: Camera._meta.get_field(f).get_default() for f in fields}
        data = {k: v for k, v in {**current, **attrs}.items() if v is not False}  # form data: unchecked = absent
        form = CameraForm(data=data, instance=self.instance)
        if not form.is_valid():
            raise serializers.ValidationError(
                {field: [str(e) for e in errors] for field, errors in form.errors.items()}
            )
        attrs.update({k: form.cleaned_data[k] for k in attrs})
        return attrs


class CameraViewSet(viewsets.ModelViewSet):
    queryset = Camera.objects.all()
    serializer_class = CameraSerializer
    permission_classes = [IsAdminOrReadOnly]
