"""Signals other apps listen to, so detection never imports them."""

from django.dispatch import Signal

#: Sent inside the review's transaction when a face's effective mask label was set by a reviewer;
#: argument `face` (the reviewed DetectedFace). The training pool adds it as labelled data.
face_reviewed = Signal()
