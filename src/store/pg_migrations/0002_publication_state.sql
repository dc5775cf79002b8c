-- What each target holds a post as: `draft`, `scheduled` or `published`. Rows written before
-- this column existed were taken as published.
ALTER TABLE publications ADD COLUMN state TEXT NOT NULL DEFAULT 'published';
