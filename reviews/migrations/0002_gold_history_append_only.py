from django.db import migrations

# Gold history is evidence: exports, promoted examples and agreement reports cite decisions, and
# reopening a decision must keep the earlier ones with who and when. So the database refuses to
# delete a decision or to rewrite one, whatever path the change takes (the ORM, QuerySet.update(),
# QuerySet.delete(), raw SQL). The one change allowed is the one that superseding needs:
# ``is_current`` going from true to false, every other column untouched. The list of reviewers
# whose agreement made a decision is part of it: its rows may be added, never changed or removed.
SQL = """
CREATE OR REPLACE FUNCTION reviews_guard_gold_decision() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'gold decision % is history and cannot be deleted', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.is_current AND NOT NEW.is_current
       AND (to_jsonb(NEW) - 'is_current') = (to_jsonb(OLD) - 'is_current') THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'gold decision % is history: only is_current may change, from true to false',
        OLD.id
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER reviews_golddecision_append_only
BEFORE UPDATE OR DELETE ON reviews_golddecision
FOR EACH ROW EXECUTE FUNCTION reviews_guard_gold_decision();

CREATE OR REPLACE FUNCTION reviews_guard_gold_agreement() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the reviewers behind gold decision % are history and cannot change',
        OLD.golddecision_id
        USING ERRCODE = 'integrity_constraint_violation';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER reviews_golddecision_agreeing_append_only
BEFORE UPDATE OR DELETE ON reviews_golddecision_agreeing_reviewers
FOR EACH ROW EXECUTE FUNCTION reviews_guard_gold_agreement();
"""

REVERSE = """
DROP TRIGGER IF EXISTS reviews_golddecision_agreeing_append_only
    ON reviews_golddecision_agreeing_reviewers;
DROP FUNCTION IF EXISTS reviews_guard_gold_agreement();
DROP TRIGGER IF EXISTS reviews_golddecision_append_only ON reviews_golddecision;
DROP FUNCTION IF EXISTS reviews_guard_gold_decision();
"""


class Migration(migrations.Migration):
    dependencies = [("reviews", "0001_initial")]
    operations = [migrations.RunSQL(SQL, REVERSE)]
