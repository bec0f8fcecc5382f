"""SignupAttestation moves here from the former ``companion`` app, keeping its table and rows.

The model keeps ``db_table = "companion_signupattestation"``. On a database made
before the move that table exists and this migration only records the model in
the state (SeparateDatabaseAndState) and moves the content type, so its
permissions and admin log entries follow. The ``companion`` app and its
migrations are gone (it is the project package now), so no migration deletes
the model from that app's state; on a fresh database the table is created here
instead. Reversing leaves the table in place.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

TABLE = "companion_signupattestation"


def create_table_if_missing(apps, schema_editor) -> None:
    if TABLE not in schema_editor.connection.introspection.table_names():
        schema_editor.create_model(apps.get_model("accounts", "SignupAttestation"))


def content_type_move(apps, schema_editor) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    db = schema_editor.connection.alias
    if not ContentType.objects.using(db).filter(app_label="accounts", model="signupattestation").exists():
        ContentType.objects.using(db).filter(app_label="companion", model="signupattestation").update(
            app_label="accounts"
        )


class Migration(migrations.Migration):

    dependencies = [
        ("accounts", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="SignupAttestation",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                                   verbose_name="ID")),
                        ("attested_at", models.DateTimeField()),
                        ("terms_version", models.CharField(default="1", max_length=20)),
                        ("user", models.OneToOneField(on_delete=django.db.models.deletion.CASCADE,
                                                      related_name="attestation", to=settings.AUTH_USER_MODEL)),
                    ],
                    options={"db_table": TABLE},
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(create_table_if_missing, migrations.RunPython.noop),
        migrations.RunPython(content_type_move, migrations.RunPython.noop),
    ]
