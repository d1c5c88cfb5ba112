-- Per-job options a schedule gives every fire's job (retry, time limits,
-- start_within_ms), as the ScheduleJobOptions message's JSON. Empty = the
-- kind's defaults, as before.
alter table schedules add column job_options jsonb not null default '{}';
