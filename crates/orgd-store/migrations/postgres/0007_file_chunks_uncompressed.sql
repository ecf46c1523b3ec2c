-- Uploaded files are written once and read once by the import that takes them; compressing them (pglz)
-- cost the upload a second per 100 MB and the import the decompression. Files expire within hours.
ALTER TABLE file_chunks ALTER COLUMN data SET STORAGE EXTERNAL;
