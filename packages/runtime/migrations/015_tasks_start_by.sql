-- A task's start_by (from its submit's start_within_ms), shown by GET
-- /v1/tasks/{id}. Written by the submit's PENDING insert and by a manual
-- retry; the projection never changes it.
alter table tasks add column if not exists start_by timestamptz;
