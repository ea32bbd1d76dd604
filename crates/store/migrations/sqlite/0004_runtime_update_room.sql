-- PostgreSQL tunes page fill and autovacuum of runtimes here; SQLite updates rows in place and
-- needs nothing. Kept so both engines count the same migrations.
SELECT 1;
