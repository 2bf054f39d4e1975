# Temporary (helper "endpoints"): ModelEndpoint timeout, concurrency and rate limit. The lead
# squashes it; it depends on both current reviews leaves so the graph has one leaf.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("reviews", "0005_agreementfast"),
        ("reviews", "0006_amendpromote"),
    ]

    operations = [
        migrations.AddField(
            model_name="modelendpoint",
            name="concurrency",
            field=models.PositiveSmallIntegerField(default=8),
        ),
        migrations.AddField(
            model_name="modelendpoint",
            name="rate_limit_per_minute",
            field=models.PositiveIntegerField(default=0),
        ),
        migrations.AddField(
            model_name="modelendpoint",
            name="timeout_seconds",
            field=models.PositiveSmallIntegerField(default=60),
        ),
        migrations.AddConstraint(
            model_name="modelendpoint",
            constraint=models.CheckConstraint(
                condition=models.Q(("timeout_seconds__gte", 1), ("timeout_seconds__lte", 600)),
                name="model_endpoint_timeout_range",
            ),
        ),
        migrations.AddConstraint(
            model_name="modelendpoint",
            constraint=models.CheckConstraint(
                condition=models.Q(("concurrency__gte", 1), ("concurrency__lte", 256)),
                name="model_endpoint_concurrency_range",
            ),
        ),
    ]
