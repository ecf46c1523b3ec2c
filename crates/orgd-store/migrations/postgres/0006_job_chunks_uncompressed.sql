-- An import job's results are written once, in the transaction that applies the import, and read once or
-- twice: compressing them (pglz) cost the import more time than the disk it saved.
ALTER TABLE job_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
