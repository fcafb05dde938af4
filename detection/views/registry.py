"""Face registry pages for the Admin role: people, their samples, bulk import, promotion of detections."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db.models import Count, OuterRef, Q, Subquery
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.functional import cached_property
from django.views import View
from django.views.generic import DetailView, FormView, ListView

from accounts.permissions import PermissionRequired
from detection.models import DetectedFace, FaceImport, FaceSample, Person
from detection.services import registry
from detection.services.enrolment import EnrolmentRejected
from detection.services.registry_import import ImportRefused, import_root, start_folder_import, start_zip_import


class RegistryMixin(PermissionRequired):
    permission_required = "detection.manage_registry"


class PersonForm(forms.ModelForm):
    consent = forms.BooleanField(
        required=False, label="The person consented to having their face registered (recorded with your name)."
    )
    allow_largest = forms.BooleanField(required=False, label="When a photo shows several faces, enrol the largest one.")

    class Meta:
        model = Person
        fields = ["display_name", "employee_code", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}


class PhotosForm(forms.Form):
    allow_largest = PersonForm.base_fields["allow_largest"]


def _photos(request) -> list[tuple[str, bytes, str]]:
    """Uploaded and webcam-captured photos of a request, with their sample source."""
    out = []
    for field, source in (("photos", FaceSample.Source.UPLOAD), ("webcam_photos", FaceSample.Source.WEBCAM)):
        out.extend((f.name, f.read(), source) for f in request.FILES.getlist(field))
    return out


def _report(request, results: list[registry.PhotoResult]) -> None:
    accepted = sum(r.accepted for r in results)
    if accepted:
        messages.success(request, f"{accepted} photo(s) enrolled.")
    for r in results:
        if not r.accepted:
            messages.error(request, f"{r.name}: {r.reason}")


class PersonListView(RegistryMixin, ListView):
    template_name = "detection/person_list.html"
    paginate_by = 30

    def get_queryset(self):
        first_crop = FaceSample.objects.filter(person=OuterRef("pk"), synthetic_mask=False).order_by("id")
        people = Person.objects.annotate(
            sample_count=Count("samples", filter=Q(samples__synthetic_mask=False)),
            thumbnail_id=Subquery(first_crop.values("id")[:1]),
        ).order_by("display_name", "pk")
        q = self.request.GET.get("q", "").strip()
        if q:
            people = people.filter(Q(display_name__icontains=q) | Q(employee_code__icontains=q))
        return people


class PersonCreateView(RegistryMixin, FormView):
    template_name = "detection/person_form.html"
    form_class = PersonForm

    def form_valid(self, form):
        data = form.cleaned_data
        person = registry.create_person(
            display_name=data["display_name"],
            employee_code=data["employee_code"],
            notes=data["notes"],
            consent=data["consent"],
            user=self.request.user,
        )
        _report(
            self.request,
            registry.add_photos(
                person, _photos(self.request), allow_largest=data["allow_largest"], user=self.request.user
            ),
        )
        return redirect("detection:person_detail", pk=person.pk)


class PersonDetailView(RegistryMixin, DetailView):
    """The person with every sample; POST adds photos."""

    model = Person
    template_name = "detection/person_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["samples"] = self.object.samples.filter(synthetic_mask=False).prefetch_related("variants")
        context["photos_form"] = PhotosForm()
        return context

    def post(self, request, pk):
        person = get_object_or_404(Person, pk=pk)
        form = PhotosForm(request.POST)
        form.is_valid()
        _report(
            request,
            registry.add_photos(
                person, _photos(request), allow_largest=form.cleaned_data.get("allow_largest", False), user=request.user
            ),
        )
        return redirect("detection:person_detail", pk=pk)


class SampleImageView(PermissionRequired, View):
    """A sample's face crop (or photo with ?photo=1), served only to people allowed to see the registry."""

    permission_required = "detection.view_facesample"

    def get(self, request, pk):
        sample = get_object_or_404(FaceSample, pk=pk)
        image = sample.image if request.GET.get("photo") and sample.image else sample.crop
        if not image:
            raise Http404("This sample has no stored image.")
        response = FileResponse(image.open("rb"), content_type="image/jpeg")
        response["Cache-Control"] = "private, max-age=3600"
        return response


class SampleDeleteView(RegistryMixin, View):
    def post(self, request, pk):
        sample = get_object_or_404(FaceSample, pk=pk, synthetic_mask=False)
        person_id = sample.person_id
        registry.delete_sample(sample, user=request.user)
        messages.success(request, "The sample and its masked variants were deleted.")
        return redirect("detection:person_detail", pk=person_id)


class PersonDeactivateView(RegistryMixin, View):
    """POST active=0 stops recognising the person, active=1 resumes."""

    def post(self, request, pk):
        person = get_object_or_404(Person, pk=pk)
        active = request.POST.get("active") == "1"
        registry.set_active(person, active, user=request.user)
        messages.success(request, f"{person} is {'active' if active else 'deactivated'}.")
        return redirect("detection:person_detail", pk=pk)


class PersonDeleteView(RegistryMixin, DetailView):
    model = Person
    template_name = "detection/person_confirm_delete.html"

    def post(self, request, pk):
        person = get_object_or_404(Person, pk=pk)
        name = str(person)
        registry.delete_person(person, user=request.user)
        messages.success(request, f"{name} and all their photos, crops and embeddings were erased.")
        return redirect("detection:person_list")


class PromoteForm(forms.Form):
    person = forms.ModelChoiceField(Person.objects.all(), required=False, label="Existing person")
    display_name = forms.CharField(max_length=150, required=False, label="…or a new person named")

    def clean(self):
        data = super().clean()
        if bool(data.get("person")) == bool(data.get("display_name", "").strip()):
            raise forms.ValidationError("Choose an existing person or type a new name (one of the two).")
        return data


class FacePromoteView(RegistryMixin, FormView):
    """Enrol a face from the detection log as a sample of a new or existing person."""

    template_name = "detection/person_promote.html"
    form_class = PromoteForm

    @cached_property
    def face(self) -> DetectedFace:  # looked up after the permission check, never before
        return get_object_or_404(DetectedFace.objects.select_related("log", "person"), pk=self.kwargs["pk"])

    def get_initial(self):
        return {"person": self.face.corrected_person or self.face.person}

    def get_context_data(self, **kwargs):
        return super().get_context_data(face=self.face, **kwargs)

    def form_valid(self, form):
        try:
            sample = registry.promote_face(
                self.face,
                person=form.cleaned_data["person"],
                display_name=form.cleaned_data["display_name"].strip(),
                user=self.request.user,
            )
        except EnrolmentRejected as exc:
            form.add_error(None, exc.message)
            return self.form_invalid(form)
        messages.success(self.request, "The face was added to the registry.")
        return redirect("detection:person_detail", pk=sample.person_id)


class ImportForm(forms.Form):
    archive = forms.FileField(required=False, label="ZIP archive", help_text="Laid out person_name/photo.jpg.")
    folder = forms.CharField(required=False, label="…or a folder on the server")
    allow_largest = PersonForm.base_fields["allow_largest"]

    def clean(self):
        data = super().clean()
        if bool(data.get("archive")) == bool(data.get("folder", "").strip()):
            raise forms.ValidationError("Upload a ZIP archive or name a server folder (one of the two).")
        return data


class PersonImportView(RegistryMixin, FormView):
    template_name = "detection/person_import.html"
    form_class = ImportForm

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            import_root=import_root(), recent=FaceImport.objects.filter(owner=self.request.user)[:10], **kwargs
        )

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            if data["archive"]:
                job = start_zip_import(self.request.user, data["archive"], allow_largest=data["allow_largest"])
            else:
                job = start_folder_import(
                    self.request.user, data["folder"].strip(), allow_largest=data["allow_largest"]
                )
        except ImportRefused as exc:
            form.add_error(None, str(exc))
            return self.form_invalid(form)
        return HttpResponseRedirect(reverse("detection:person_import_detail", args=[job.pk]))


class ImportDetailView(RegistryMixin, DetailView):
    template_name = "detection/person_import_detail.html"
    context_object_name = "job"

    def get_queryset(self):
        return FaceImport.objects.filter(owner=self.request.user)
