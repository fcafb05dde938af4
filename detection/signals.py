"""Signals other apps listen to, so detection never imports them."""

from django.dispatch import Signal

#: Sent inside the review's transaction when a face's effective mask label was set by a reviewer;
#: argument `face` (the reviewed DetectedFace). The training pool adds it as labelled data.
face_reviewed = Signal()

#: Sent inside an erasure's transaction with `face_ids`: detected faces that showed an erased person.
#: Stores of images cut from detections (the training pool) delete theirs.
faces_erased = Signal()
