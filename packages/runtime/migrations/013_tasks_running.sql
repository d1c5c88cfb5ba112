-- Running tasks by their last change, for the reconciler's search for tasks
-- whose worker and job message were both lost. Partial: a fast job goes from
-- PENDING to SUCCESS in one projection commit and never gets an entry.
create index tasks_running on tasks (updated_at) where state in ('STARTED', 'PROGRESS');
