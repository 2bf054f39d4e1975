# Temporary (helper "agreementfast"): indexes the agreement report's cache stamp and its first-
# submission read need. The lead folds them into the models (Label.Meta.indexes,
# GoldDecision.Meta.indexes, LabelRevision.Meta.indexes) and the squashed migration.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        # The latest reviews migration when this was written (another helper's temporary one).
        ("reviews", "0006_amendpromote"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="label",
            index=models.Index(fields=["campaign", "updated_at"], name="label_campaign_changed"),
        ),
        migrations.AddIndex(
            model_name="golddecision",
            index=models.Index(fields=["campaign", "id"], name="decision_campaign_id"),
        ),
        migrations.AddIndex(
            model_name="labelrevision",
            index=models.Index(
                fields=["label"],
                condition=models.Q(kind="revise"),
                name="labelrevision_revise",
            ),
        ),
    ]
