-- What a post rests on: its sources (title and link, in citation order), whether it was
-- written from sources at all, the claims the grounding check found unsupported and the links
-- removed from its body. JSON; posts stored before this read as ungrounded.
ALTER TABLE posts ADD COLUMN provenance TEXT NOT NULL DEFAULT '{}';
