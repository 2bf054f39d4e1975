# Temporary migration of helper "judges" (the lead squashes migrations): JudgeRun's progress
# and invalid-answer fields. Hand-written so it holds only these fields.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0008_reruns"),
    ]

    operations = [
        migrations.AddField(
            model_name="judgerun",
            name="mode",
            field=models.CharField(
                choices=[
                    ("per_pair", "One call per (item, clause)"),
                    ("per_item", "One call per item, all its clauses"),
                ],
                default="per_pair",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="judgerun",
            name="calls_total",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="judgerun",
            name="calls_done",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="judgerun",
            name="invalid_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="judgerun",
            name="invalid_sample",
            field=models.JSONField(blank=True, default=list),
        ),
        migrations.AddField(
            model_name="judgerun",
            name="failed_count",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="judgerun",
            name="error",
            field=models.TextField(blank=True),
        ),
    ]
