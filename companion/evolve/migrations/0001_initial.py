import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('chat', '0001_initial'),
        ('rendering', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='Clip',
            fields=[
                ('job', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='chat_clip', serialize=False, to='rendering.renderjob')),
                ('conversation', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='clips', to='chat.conversation')),
                ('message', models.ForeignKey(blank=True, help_text='The persona message this clip evolves (empty for a reel).', null=True, on_delete=django.db.models.deletion.CASCADE, related_name='clips', to='chat.message')),
            ],
        ),
    ]
