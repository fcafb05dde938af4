"""Cameras over the REST API: camera configuration is the Admin role's (model permissions on Camera).

A stream URL may hold credentials (`rtsp://user:pass@host/…`): the API accepts it but only ever
answers it with the credentials masked, so a read never discloses them.
"""

from __future__ import annotations

from rest_framework import serializers, viewsets

from detection.models import Camera, redact_url
from detection.views.live import CameraForm


class CameraSerializer(serializers.ModelSerializer):
    url = serializers.CharField(
        write_only=True,
        required=False,
        allow_blank=True,
        max_length=500,
        help_text="Stream URL or file path; write-only because it may hold credentials (see url_display).",
    )
    url_display = serializers.SerializerMethodField(help_text="The stream URL with any password masked.")

    class Meta:
        model = Camera
        fields = ["id", "name", "location", "kind", "url", "url_display", "enabled", "max_fps", "created_at"]
        read_only_fields = ["id", "created_at"]

    def get_url_display(self, camera: Camera) -> str:
        return redact_url(camera.url)

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
