"""factory_boy factories shared by the test suite."""

import factory
from django.contrib.auth import get_user_model

from accounts.roles import ADMIN, STAFF, set_role

PASSWORD = "correct-horse-battery-staple"


def _role(default: str) -> factory.PostGeneration:
    """`UserFactory(role_name="Admin")` picks the role; saving here also keeps the password."""

    def assign(user, create, extracted, **kwargs):
        user.save()
        if create:
            set_role(user, extracted or default)

    return factory.PostGeneration(assign)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda o: f"{o.username}@example.org")
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)
    role_name = _role(STAFF)


class AdminFactory(UserFactory):
    role_name = _role(ADMIN)


class ConsentRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "detection.ConsentRecord"

    lawful_basis = "consent"
    note = "Signed form in the HR file"


class PersonFactory(factory.django.DjangoModelFactory):
    """A registered person with a lawful basis on record (recognisable under the default settings)."""

    class Meta:
        model = "detection.Person"

    display_name = factory.Sequence(lambda n: f"Person {n}")
    consent = factory.SubFactory(ConsentRecordFactory)


class DetectedFaceFactory(factory.django.DjangoModelFactory):
    """A face of an existing log: `DetectedFaceFactory(log=log, mask_label="without_mask")`; its
    mask probability follows the label."""

    class Meta:
        model = "detection.DetectedFace"

    x1, y1, x2, y2 = 1, 2, 30, 40
    score = 0.9
    mask_label = "with_mask"
    mask_probability = factory.LazyAttribute(lambda face: 0.9 if face.mask_label == "with_mask" else 0.1)
