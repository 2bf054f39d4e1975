from __future__ import annotations

from django import forms

from clausebook.models import Role


class WorkspaceForm(forms.Form):
    name = forms.CharField(max_length=120)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), required=False)


class InvitationForm(forms.Form):
    email = forms.EmailField()
    role = forms.TypedChoiceField(choices=Role.choices, coerce=int, initial=Role.REVIEWER)


class RoleForm(forms.Form):
    role = forms.TypedChoiceField(choices=Role.choices, coerce=int)


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        max_length=80, help_text="What will use it, e.g. 'nightly import script'."
    )


class RemoveMemberForm(forms.Form):
    confirm = forms.BooleanField(
        label="Yes, remove this member",
        error_messages={"required": "Tick the box to confirm the removal."},
    )
