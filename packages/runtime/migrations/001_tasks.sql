-- Task state projected from the event stream. The row is the record of truth
-- that a task exists: it is written (PENDING) before the job is published.
create table tasks (
  task_id         text primary key,
  tenant          text not null,
  kind            text not null,
  queue           text not null default 'default',
  name            text not null default '',
  state           text not null,
  generation      int not null default 0,
  attempt         int not null default 0,
  seq             int not null default 0,
  progress        jsonb,
  result          jsonb,
  error           jsonb,
  history         jsonb not null default '[]',
  parent_id       text,
  job             bytea,
  cancel_requested boolean not null default false,
  created_at      timestamptz not null,
  started_at      timestamptz,
  finished_at     timestamptz,
  next_attempt_at timestamptz,
  updated_at      timestamptz not null default now(),
  expires_at      timestamptz
);
create index tasks_tenant_created on tasks (tenant, created_at desc, task_id desc);
create index tasks_tenant_state on tasks (tenant, state, created_at desc);
create index tasks_parent on tasks (parent_id) where parent_id is not null;
create index tasks_pending on tasks (state, created_at) where state = 'PENDING';
create index tasks_expires on tasks (expires_at) where expires_at is not null;

-- Idempotency-Key → task, per tenant, for 24 h.
create table idempotency_keys (
  tenant       text not null,
  key          text not null,
  request_hash text not null,
  task_id      text not null,
  created_at   timestamptz not null default now(),
  primary key (tenant, key)
);

-- Expired tasks leave a tombstone so they answer 410, not 404.
create table task_tombstones (
  task_id    text primary key,
  tenant     text not null,
  expired_at timestamptz not null default now()
);
