"""Face registry pages for the Admin role: people, their samples, consent, bulk import, promotion of
detections, subject access export and erasure."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db.models import Count, Exists, OuterRef, Q, Subquery
from django.http import FileResponse, Http404, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.functional import cached_property
from django.views import View
from django.views.generic import DetailView, FormView, ListView

from accounts.permissions import PermissionRequired
from detection.models import DetectedFace, FaceImport, FaceSample, LawfulBasis, Person
from detection.services import consent as consent_service
from detection.services import registry, registry_import, subjects
from detection.services.consent import ConsentError, Declaration
from detection.services.enrolment import EnrolmentRejected
from detection.services.gallery import recognisable
from detection.services.registry_import import ImportRefused, import_root, start_folder_import, start_zip_import
from detection.services.uploads import UploadError, read_upload


class RegistryMixin(PermissionRequired):
    permission_required = "detection.manage_registry"


class DeclarationForm(forms.Form):
    """The lawful basis and consent of the people being registered (required while the platform
    requires consent, or when `basis_required`)."""

    basis_required = False

    lawful_basis = forms.ChoiceField(
        choices=[("", "— choose —"), *LawfulBasis.choices],
        required=False,
        label="Lawful basis",
        help_text="Why the platform may hold this person's face; recorded with your name and the time.",
    )
    consent_note = forms.CharField(
        required=False,
        label="Consent note",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Where the signed form is kept, its reference, or the details of another basis.",
    )
    consent_document = forms.FileField(required=False, label="Signed consent form (PDF, PNG or JPEG, optional)")

    def needs_declaration(self) -> bool:
        return self.basis_required or consent_service.consent_required()

    def clean(self):
        data = super().clean()
        if not data.get("lawful_basis"):
            if self.needs_declaration():
                self.add_error("lawful_basis", "Choose the lawful basis: it is required to register a person.")
            return data
        try:
            self.declaration().check()
        except ConsentError as exc:
            raise forms.ValidationError(str(exc)) from exc
        return data

    def declaration(self) -> Declaration | None:
        data = self.cleaned_data
        if not data.get("lawful_basis"):
            return None
        return Declaration(data["lawful_basis"], data.get("consent_note", ""), data.get("consent_document"))


class ConsentForm(DeclarationForm):
    basis_required = True


class PersonForm(DeclarationForm, forms.ModelForm):
    allow_largest = forms.BooleanField(required=False, label="When a photo shows several faces, enrol the largest one.")

    class Meta:
        model = Person
        fields = ["display_name", "employee_code", "notes"]
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}


class PersonEditForm(forms.ModelForm):
    class Meta:
        model = Person
        fields = list(registry.EDITABLE_FIELDS)
        widgets = {"notes": forms.Textarea(attrs={"rows": 2})}


class PhotosForm(forms.Form):
    allow_largest = PersonForm.base_fields["allow_largest"]


def _add_photos(request, person: Person, allow_largest: bool) -> list[registry.PhotoResult]:
    """Enrol the request's uploaded and webcam-captured photos; a file over the shared upload limit
    is refused (with the reason) before it is read, like on every other upload path."""
    photos, refused = [], []
    for field, source in (("photos", FaceSample.Source.UPLOAD), ("webcam_photos", FaceSample.Source.WEBCAM)):
        for upload in request.FILES.getlist(field):
            try:
                photos.append((upload.name, read_upload(upload), source))
            except UploadError as exc:
                refused.append(registry.PhotoResult(upload.name, code="upload_refused", reason=str(exc)))
    return refused + registry.add_photos(person, photos, allow_largest=allow_largest, user=request.user)


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
        people = (
            Person.objects.select_related("consent")
            .annotate(
                sample_count=Count("samples", filter=Q(samples__synthetic_mask=False)),
                thumbnail_id=Subquery(first_crop.values("id")[:1]),
                recognisable=Exists(recognisable(Person.objects.filter(pk=OuterRef("pk")))),
            )
            .order_by("display_name", "pk")
        )
        q = self.request.GET.get("q", "").strip()
        if q:
            people = people.filter(Q(display_name__icontains=q) | Q(employee_code__icontains=q))
        consent = self.request.GET.get("consent")
        if consent == "missing":
            people = people.filter(consent__isnull=True)
        elif consent == "withdrawn":
            people = people.filter(consent_withdrawn_at__isnull=False)
        return people


class PersonCreateView(RegistryMixin, FormView):
    template_name = "detection/person_form.html"
    form_class = PersonForm

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            person = registry.create_person(
                display_name=data["display_name"],
                employee_code=data["employee_code"],
                notes=data["notes"],
                consent=form.declaration(),
                user=self.request.user,
            )
        except ConsentError as exc:  # the setting changed since the form was checked
            form.add_error(None, str(exc))
            return self.form_invalid(form)
        _report(self.request, _add_photos(self.request, person, data["allow_largest"]))
        return redirect("detection:person_detail", pk=person.pk)


class PersonDetailView(RegistryMixin, DetailView):
    """The person with every sample; POST adds photos."""

    model = Person
    template_name = "detection/person_detail.html"

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        context["samples"] = self.object.samples.filter(synthetic_mask=False).prefetch_related("variants")
        context["photos_form"] = PhotosForm()
        context["consent_form"] = ConsentForm()
        context["consent_required"] = consent_service.consent_required()
        context["recognisable"] = recognisable(Person.objects.filter(pk=self.object.pk)).exists()
        return context

    def post(self, request, pk):
        person = get_object_or_404(Person, pk=pk)
        form = PhotosForm(request.POST)
        form.is_valid()
        _report(request, _add_photos(request, person, form.cleaned_data.get("allow_largest", False)))
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


class PersonUpdateView(RegistryMixin, FormView):
    """Edit a person's name, employee code and notes (audited with before and after)."""

    template_name = "detection/person_edit.html"
    form_class = PersonEditForm

    @cached_property
    def person(self) -> Person:
        return get_object_or_404(Person, pk=self.kwargs["pk"])

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "instance": self.person}

    def get_context_data(self, **kwargs):
        return super().get_context_data(person=self.person, **kwargs)

    def form_valid(self, form):
        registry.update_person(
            Person.objects.get(pk=self.person.pk),
            user=self.request.user,
            **{name: form.cleaned_data[name] for name in registry.EDITABLE_FIELDS},
        )
        messages.success(self.request, "Saved.")
        return redirect("detection:person_detail", pk=self.person.pk)


class PersonDeactivateView(RegistryMixin, View):
    """POST active=0 stops recognising the person, active=1 resumes."""

    def post(self, request, pk):
        person = get_object_or_404(Person, pk=pk)
        active = request.POST.get("active") == "1"
        try:
            registry.set_active(person, active, user=request.user)
        except ConsentError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(request, f"{person} is {'active' if active else 'deactivated'}.")
        return redirect("detection:person_detail", pk=pk)


class PersonConsentView(RegistryMixin, View):
    """POST records (or renews) the person's lawful basis and consent, with an optional document."""

    def post(self, request, pk):
        person = get_object_or_404(Person, pk=pk)
        form = ConsentForm(request.POST, request.FILES)
        if not form.is_valid():
            for errors in form.errors.values():
                for error in errors:
                    messages.error(request, f"Consent not recorded: {error}")
            return redirect("detection:person_detail", pk=pk)
        consent_service.record_consent(person, form.declaration(), user=request.user)
        messages.success(request, f"The lawful basis and consent of {person} were recorded.")
        return redirect("detection:person_detail", pk=pk)


class PersonWithdrawView(RegistryMixin, View):
    """POST: the person withdrew consent; they are deactivated and erased after the grace period."""

    def post(self, request, pk):
        person = get_object_or_404(Person, pk=pk)
        try:
            consent_service.withdraw_consent(person, user=request.user, note=request.POST.get("note", "")[:1000])
        except ConsentError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request, f"{person} is no longer recognised and will be erased on {person.erasure_due_at:%Y-%m-%d}."
            )
        return redirect("detection:person_detail", pk=pk)


class PersonConsentDocumentView(RegistryMixin, View):
    def get(self, request, pk):
        person = get_object_or_404(Person.objects.select_related("consent"), pk=pk)
        if person.consent is None or not person.consent.document:
            raise Http404("No consent document is stored for this person.")
        response = FileResponse(person.consent.document.open("rb"), as_attachment=True)
        response["Cache-Control"] = "private, no-store"
        return response


class PersonExportView(RegistryMixin, View):
    """GET downloads the subject access export (ZIP) of the person; the download is audited."""

    def get(self, request, pk):
        person = get_object_or_404(Person, pk=pk)
        archive = subjects.export_subject(person, user=request.user)
        response = FileResponse(
            archive, as_attachment=True, filename=subjects.export_filename(person), content_type="application/zip"
        )
        response["Cache-Control"] = "private, no-store"
        return response


class PersonDeleteView(RegistryMixin, DetailView):
    """Erasure: everything about the person, including their face in stored detection images."""

    model = Person
    template_name = "detection/person_confirm_delete.html"

    def post(self, request, pk):
        person = get_object_or_404(Person, pk=pk)
        report = subjects.erase_person(person, user=request.user, reason=request.POST.get("reason", "")[:500])
        messages.success(
            request,
            f"The person was erased: {report.photos} photo(s) with their crops and embeddings; their name was "
            f"removed from {report.detections} detection(s) and their face from {report.images_blurred} stored "
            "image(s).",
        )
        return redirect("detection:person_list")


class PromoteForm(DeclarationForm):
    person = forms.ModelChoiceField(Person.objects.all(), required=False, label="Existing person")
    display_name = forms.CharField(max_length=150, required=False, label="…or a new person named")

    field_order = ["person", "display_name", "lawful_basis", "consent_note", "consent_document"]

    def needs_declaration(self) -> bool:
        # only a new person is registered here; an existing one keeps their record
        return not self.data.get("person") and super().needs_declaration()

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
                consent=None if form.cleaned_data["person"] else form.declaration(),
                user=self.request.user,
            )
        except EnrolmentRejected as exc:
            form.add_error(None, exc.message)
            return self.form_invalid(form)
        except ConsentError as exc:
            form.add_error(None, str(exc))
            return self.form_invalid(form)
        messages.success(self.request, "The face was added to the registry.")
        return redirect("detection:person_detail", pk=sample.person_id)


class ImportForm(DeclarationForm):
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
            import_root=import_root(),
            recent=FaceImport.objects.filter(owner=self.request.user)[:10],
            **kwargs,
        )

    def form_valid(self, form):
        data = form.cleaned_data
        try:
            options = {"allow_largest": data["allow_largest"], "consent": form.declaration()}
            if data["archive"]:
                job = start_zip_import(self.request.user, data["archive"], **options)
            else:
                job = start_folder_import(self.request.user, data["folder"].strip(), **options)
        except (ImportRefused, ConsentError) as exc:
            form.add_error(None, str(exc))
            return self.form_invalid(form)
        return HttpResponseRedirect(reverse("detection:person_import_detail", args=[job.pk]))


class ImportDetailView(RegistryMixin, DetailView):
    template_name = "detection/person_import_detail.html"
    context_object_name = "job"

    def get_queryset(self):
        return FaceImport.objects.filter(owner=self.request.user).select_related("retry_of")

    def get_context_data(self, **kwargs):
        can_retry = registry_import.can_retry(self.object)
        retryable = len(registry_import.retryable_files(self.object)) if can_retry else 0
        return super().get_context_data(retryable=retryable, **kwargs)


class ImportRetryView(RegistryMixin, View):
    """POST action=retry: enrol the largest face of the photos rejected for several faces (no new
    upload); action=discard: delete the archive kept for that."""

    def post(self, request, pk):
        job = get_object_or_404(FaceImport, pk=pk, owner=request.user)
        if request.POST.get("action") == "discard":
            registry_import.discard_archive(job)
            messages.info(request, "The kept archive was deleted.")
            return redirect("detection:person_import_detail", pk=pk)
        try:
            retry = registry_import.retry_with_largest(job, request.user)
        except ImportRefused as exc:
            messages.warning(request, str(exc))
            return redirect("detection:person_import_detail", pk=pk)
        return redirect("detection:person_import_detail", pk=retry.pk)
