"""Clip rows for the render jobs made before the link was a model.

Until then a job named its chat origin in ``RenderJob.source``: ``chat.message:<message id>``
for a clip, ``chat.reel:<conversation id>`` for a reel. Jobs whose message or conversation
is gone, and jobs from elsewhere (admin, benchmarks), get no Clip: the chat never showed them.
Reversible: evolve still writes the same ``source`` labels, so going back only drops the rows.
"""

from django.db import migrations

MESSAGE_SOURCE = "chat.message:"
REEL_SOURCE = "chat.reel:"
BATCH = 500


def _int(text):
    try:
        return int(text)
    except ValueError:
        return None


def _parse(source):
    """(message id, None) for a clip, (None, conversation id) for a reel, else (None, None)."""
    if source.startswith(MESSAGE_SOURCE):
        return _int(source[len(MESSAGE_SOURCE):]), None
    if source.startswith(REEL_SOURCE):
        return None, _int(source[len(REEL_SOURCE):].split(":", 1)[0])
    return None, None


def _link(apps, batch):
    Message = apps.get_model("chat", "Message")
    Conversation = apps.get_model("chat", "Conversation")
    Clip = apps.get_model("evolve", "Clip")
    parsed = {job_id: _parse(source) for job_id, source in batch}
    conversation_of = dict(
        Message.objects.filter(pk__in={m for m, _ in parsed.values() if m is not None})
        .values_list("pk", "conversation_id")
    )
    conversations = set(
        Conversation.objects.filter(pk__in={c for _, c in parsed.values() if c is not None})
        .values_list("pk", flat=True)
    )
    rows = []
    for job_id, (message_id, conversation_id) in parsed.items():
        if message_id in conversation_of:
            rows.append(Clip(job_id=job_id, message_id=message_id, conversation_id=conversation_of[message_id]))
        elif conversation_id in conversations:
            rows.append(Clip(job_id=job_id, message_id=None, conversation_id=conversation_id))
    Clip.objects.bulk_create(rows, ignore_conflicts=True)


def clips_from_sources(apps, schema_editor):
    RenderJob = apps.get_model("rendering", "RenderJob")
    batch = []
    for row in RenderJob.objects.filter(source__startswith="chat.").values_list("pk", "source").iterator():
        batch.append(row)
        if len(batch) == BATCH:  # a few hundred ids per query: SQLite caps the parameters of one
            _link(apps, batch)
            batch = []
    if batch:
        _link(apps, batch)


def drop_clips(apps, schema_editor):
    apps.get_model("evolve", "Clip").objects.all().delete()


class Migration(migrations.Migration):

    dependencies = [
        ('evolve', '0001_initial'),
    ]

    operations = [
        migrations.RunPython(clips_from_sources, drop_clips),
    ]
