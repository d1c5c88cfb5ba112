-- Parent tasks that coordinate children: chains, groups, chords and fan-outs
-- (train all products). The status service's orchestrator owns these rows.
create table workflows (
  parent_id   text primary key,
  tenant      text not null,
  type        text not null,
  settle_all  boolean not null default false,
  steps       bytea[] not null,
  callback    bytea,
  labels      jsonb not null default '[]',
  children    jsonb not null default '{}',
  results     jsonb not null default '{}',
  next_step   int not null default 0,
  callback_id text,
  seq         int not null default 1,
  done        boolean not null default false,
  created_at  timestamptz not null default now(),
  updated_at  timestamptz not null default now()
);
create index workflows_running on workflows (done, updated_at) where not done;
