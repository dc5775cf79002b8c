-- A rejected post is its own state (see the SQLite migration 0013), and a near-duplicate
-- names the post it repeats.
ALTER TABLE posts DROP CONSTRAINT IF EXISTS posts_status_check;
ALTER TABLE posts ADD CONSTRAINT posts_status_check
    CHECK (status IN ('ready', 'held', 'published', 'rejected'));
ALTER TABLE posts ADD COLUMN duplicate_of TEXT;
UPDATE posts SET status = 'rejected'
WHERE status = 'held' AND EXISTS (SELECT 1 FROM reviews r WHERE r.post_id = posts.id AND r.state = 'rejected');
