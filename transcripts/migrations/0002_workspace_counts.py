# Hand-written: kept apart from 0001 when migrations are squashed.
from django.db import migrations

# The transcript list's total without a count of the workspace's rows on every first
# page (100k rows: ~20 ms, growing with the workspace). Statement-level triggers append the change
# each statement makes to a workspace's count (transition tables: one row per statement and
# workspace, whatever the row count: an import's COPY batch of 2,000 rows, a single create), in the
# writing transaction itself, so the sum is exact for every reader. Append-only, so no writer
# waits for another (a running import never holds up a re-run's insert); readers fold a long tail
# of parts into one (selectors.transcript_list_totals). ENABLE ALWAYS: the import's COPY runs with
# session_replication_role = replica (which skips ordinary triggers) and must still be counted.
FORWARD = """
CREATE TABLE transcripts_workspace_count (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    workspace_id bigint NOT NULL,
    transcripts bigint NOT NULL
);
CREATE INDEX transcripts_workspace_count_workspace
    ON transcripts_workspace_count (workspace_id) INCLUDE (transcripts);

CREATE FUNCTION transcripts_count_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO transcripts_workspace_count (workspace_id, transcripts)
    SELECT workspace_id, count(*) FROM added GROUP BY workspace_id;
    RETURN NULL;
END $$;

CREATE FUNCTION transcripts_count_remove() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO transcripts_workspace_count (workspace_id, transcripts)
    SELECT workspace_id, -count(*) FROM removed GROUP BY workspace_id;
    RETURN NULL;
END $$;

CREATE FUNCTION transcripts_count_move() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- Only a change of workspace changes a count (none of today's code does that).
    INSERT INTO transcripts_workspace_count (workspace_id, transcripts)
    SELECT workspace_id, sum(n) FROM (
        SELECT workspace_id, 1 AS n FROM added UNION ALL SELECT workspace_id, -1 FROM removed
    ) AS d GROUP BY workspace_id HAVING sum(n) <> 0;
    RETURN NULL;
END $$;

CREATE FUNCTION transcripts_count_clear() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM transcripts_workspace_count;
    RETURN NULL;
END $$;

CREATE TRIGGER transcripts_count_insert AFTER INSERT ON transcripts_transcript
    REFERENCING NEW TABLE AS added FOR EACH STATEMENT EXECUTE FUNCTION transcripts_count_add();
CREATE TRIGGER transcripts_count_delete AFTER DELETE ON transcripts_transcript
    REFERENCING OLD TABLE AS removed FOR EACH STATEMENT
    EXECUTE FUNCTION transcripts_count_remove();
CREATE TRIGGER transcripts_count_update AFTER UPDATE ON transcripts_transcript
    REFERENCING OLD TABLE AS removed NEW TABLE AS added FOR EACH STATEMENT
    EXECUTE FUNCTION transcripts_count_move();
CREATE TRIGGER transcripts_count_truncate AFTER TRUNCATE ON transcripts_transcript
    FOR EACH STATEMENT EXECUTE FUNCTION transcripts_count_clear();
ALTER TABLE transcripts_transcript ENABLE ALWAYS TRIGGER transcripts_count_insert;
ALTER TABLE transcripts_transcript ENABLE ALWAYS TRIGGER transcripts_count_delete;
ALTER TABLE transcripts_transcript ENABLE ALWAYS TRIGGER transcripts_count_update;
ALTER TABLE transcripts_transcript ENABLE ALWAYS TRIGGER transcripts_count_truncate;

-- After the triggers: they lock the table against writes until this migration commits.
INSERT INTO transcripts_workspace_count (workspace_id, transcripts)
SELECT workspace_id, count(*) FROM transcripts_transcript GROUP BY workspace_id;
"""

BACKWARD = """
DROP TRIGGER transcripts_count_insert ON transcripts_transcript;
DROP TRIGGER transcripts_count_delete ON transcripts_transcript;
DROP TRIGGER transcripts_count_update ON transcripts_transcript;
DROP TRIGGER transcripts_count_truncate ON transcripts_transcript;
DROP FUNCTION transcripts_count_add();
DROP FUNCTION transcripts_count_remove();
DROP FUNCTION transcripts_count_move();
DROP FUNCTION transcripts_count_clear();
DROP TABLE transcripts_workspace_count;
"""


class Migration(migrations.Migration):
    dependencies = [("transcripts", "0001_initial")]
    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
