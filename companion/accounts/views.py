"""Account privacy pages: download my data, delete my account (thin: authorise, call a service)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from companion.accounts.privacy import export_filename, user_account_delete, user_data_export


class AccountDeleteForm(forms.Form):
    password = forms.CharField(widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    confirm = forms.BooleanField(label="I understand this deletes my conversations, memories and clips for good.")

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password.")
        return password


@never_cache
@login_required
@require_GET
def account_export(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(user_data_export(user=request.user), content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{export_filename(request.user)}"'
    return response


@never_cache
@login_required
@require_http_methods(["GET", "POST"])
def account_delete(request: HttpRequest) -> HttpResponse:
    form = AccountDeleteForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        user = request.user
        logout(request)
        user_account_delete(user=user)
        messages.info(request, "Your account and everything in it has been deleted.")
        return redirect("login")
    return render(request, "accounts/account_delete.html", {"form": form}, status=400 if form.errors else 200)
