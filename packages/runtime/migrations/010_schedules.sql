-- Scheduler (services/scheduler): cron / interval schedules and one row per fire.
create table schedules (
  tenant           text not null,
  name             text not null,
  cron             text not null default '',
  interval_seconds int not null default 0,
  timezone         text not null default 'UTC',
  kind             text not null,
  payload          jsonb not null default '{}',
  enabled          boolean not null default true,
  queue            text not null default 'default',
  catch_up         text not null default 'skip' check (catch_up in ('skip', 'run_once')),
  -- The cursor the leader fires from: the next instant not yet fired.
  next_fire_at     timestamptz,
  last_fire_at     timestamptz,
  created_at       timestamptz not null,
  updated_at       timestamptz not null,
  primary key (tenant, name),
  check ((cron <> '') <> (interval_seconds > 0))
);
create index schedules_due on schedules (next_fire_at) where enabled;

-- One row per fire. The primary key on (tenant, schedule, scheduled_for) is the
-- second line of defence against a double fire: a second leader's insert is a no-op.
-- state is SCHEDULED until the task is created and its job published, then
-- mirrors the task (PENDING .. SUCCESS / FAILURE / REVOKED).
create table schedule_runs (
  tenant          text not null,
  schedule        text not null,
  scheduled_for   timestamptz not null,
  fired_at        timestamptz not null,
  task_id         text not null unique,
  -- 'schedule' (on time), 'catch_up' (a missed instant run once), 'manual' (trigger)
  trigger         text not null default 'schedule',
  state           text not null,
  -- The encoded Job, so a resubmission after a crash sends identical bytes.
  job             bytea not null,
  submit_attempts int not null default 0,
  duration_ms     bigint,
  result_summary  jsonb,
  error           text,
  updated_at      timestamptz not null,
  primary key (tenant, schedule, scheduled_for),
  foreign key (tenant, schedule) references schedules (tenant, name) on delete cascade
);
create index schedule_runs_open on schedule_runs (state) where state not in ('SUCCESS', 'FAILURE', 'REVOKED');

-- Tenants whose default schedules were seeded, so a deleted default stays deleted.
create table schedule_seeds (
  tenant    text primary key,
  seeded_at timestamptz not null
);
