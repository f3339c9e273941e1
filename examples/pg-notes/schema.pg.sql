-- constraint public.note_tags.note_tags_note_id_fkey
FOREIGN KEY (note_id) REFERENCES public.notes(id) ON DELETE CASCADE
-- constraint public.note_tags.note_tags_pkey
PRIMARY KEY (note_id, tag_id)
-- constraint public.note_tags.note_tags_tag_id_fkey
FOREIGN KEY (tag_id) REFERENCES public.tags(id)
-- constraint public.notebooks.notebooks_name_key
UNIQUE (name)
-- constraint public.notebooks.notebooks_pkey
PRIMARY KEY (id)
-- constraint public.notes.notes_notebook_id_fkey
FOREIGN KEY (notebook_id) REFERENCES public.notebooks(id)
-- constraint public.notes.notes_pkey
PRIMARY KEY (id)
-- constraint public.tags.tags_label_key
UNIQUE (label)
-- constraint public.tags.tags_pkey
PRIMARY KEY (id)
-- index public.note_tags_pkey
CREATE UNIQUE INDEX note_tags_pkey ON public.note_tags USING btree (note_id, tag_id)
-- index public.notebooks_name_key
CREATE UNIQUE INDEX notebooks_name_key ON public.notebooks USING btree (name)
-- index public.notebooks_pkey
CREATE UNIQUE INDEX notebooks_pkey ON public.notebooks USING btree (id)
-- index public.notes_by_date
CREATE INDEX notes_by_date ON public.notes USING btree (notebook_id, created_at DESC)
-- index public.notes_pkey
CREATE UNIQUE INDEX notes_pkey ON public.notes USING btree (id)
-- index public.tags_label_key
CREATE UNIQUE INDEX tags_label_key ON public.tags USING btree (label)
-- index public.tags_pkey
CREATE UNIQUE INDEX tags_pkey ON public.tags USING btree (id)
-- sequence public.notebooks_id_seq
last_value bigint NOT NULL
log_cnt bigint NOT NULL
is_called boolean NOT NULL
bigint start 1 increment 1 min 1 max 9223372036854775807 cycle f
-- sequence public.notes_id_seq
last_value bigint NOT NULL
log_cnt bigint NOT NULL
is_called boolean NOT NULL
bigint start 1 increment 1 min 1 max 9223372036854775807 cycle f
-- sequence public.tags_id_seq
last_value bigint NOT NULL
log_cnt bigint NOT NULL
is_called boolean NOT NULL
bigint start 1 increment 1 min 1 max 9223372036854775807 cycle f
-- table public.note_tags
note_id bigint NOT NULL
tag_id bigint NOT NULL
-- table public.notebooks
id bigint NOT NULL GENERATED ALWAYS AS IDENTITY
name text NOT NULL
created_at timestamp with time zone NOT NULL DEFAULT now()
-- table public.notes
id bigint NOT NULL GENERATED ALWAYS AS IDENTITY
notebook_id bigint NOT NULL
title text NOT NULL
body text NOT NULL
created_at timestamp with time zone NOT NULL DEFAULT now()
pinned boolean NOT NULL DEFAULT false
-- table public.tags
id bigint NOT NULL GENERATED ALWAYS AS IDENTITY
label text NOT NULL
