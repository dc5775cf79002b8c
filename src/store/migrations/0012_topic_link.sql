-- A topic's link as its feed gave it: the normalized `url` is a key for deduplication (no
-- scheme, no `www.`), not an address to fetch the article from.
ALTER TABLE topic_pool ADD COLUMN link TEXT;
