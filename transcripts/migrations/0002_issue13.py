# Placeholder owned by one helper this session; squashed into 0001 before the session ends.
import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("transcripts", "0001_initial"), ("specs", "0001_initial")]
    operations = [
        # Issue 13: a flag raised on an (item, clause) pair keeps its clause, and the transcript
        # it was raised on.
        migrations.AddField(
            model_name="scenarioflag",
            name="clause",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="+",
                to="specs.clause",
            ),
        ),
        migrations.AddField(
            model_name="scenarioflag",
            name="transcript",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="transcripts.transcript",
            ),
        ),
    ]
