# Placeholder owned by one helper this session; squashed into 0001 before the session ends.
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("reviews", "0003_issue12")]
    operations = [
        migrations.AddField(
            model_name="rerunjob",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="judgerun",
            name="lease_expires_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="judgerun",
            name="attempts",
            field=models.PositiveSmallIntegerField(default=0),
        ),
        # Judge runs' token usage (rerun2).
        migrations.AddField(
            model_name="judgerun",
            name="prompt_tokens",
            field=models.PositiveBigIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="judgerun",
            name="completion_tokens",
            field=models.PositiveBigIntegerField(default=0),
        ),
    ]
