"""Account privacy URLs, mounted at /account/."""

from django.urls import path

from companion.accounts import views

urlpatterns = [
    path("export/", views.account_export, name="account-export"),
    path("delete/", views.account_delete, name="account-delete"),
]
