-- A model group change rewrites the desired-state generation of every runtime that uses it
-- (100,000 rows at a time). Room on each page lets PostgreSQL update rows in place (HOT, no
-- index writes), and an eager autovacuum keeps the dead versions of such sweeps from piling up.
ALTER TABLE runtimes SET (fillfactor = 50, autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.05);
