create table datasets (
  dataset_id  text primary key,
  tenant      text not null,
  name        text not null,
  rows        bigint not null,
  columns     jsonb not null,
  bytes       bigint not null,
  sha256      text not null,
  object_name text not null,
  created_at  timestamptz not null default now()
);
create index datasets_tenant on datasets (tenant, created_at desc);

create table models (
  tenant     text not null,
  name       text not null,
  latest_version int not null default 0,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (tenant, name)
);

create table model_versions (
  tenant        text not null,
  name          text not null,
  version       int not null,
  model_type    text not null,
  target        text not null default '',
  dataset_id    text,
  dataset_hash  text,
  pipeline      jsonb,
  params        jsonb,
  metrics       jsonb,
  backend       text not null,
  artifact_object text not null,
  artifact_bytes bigint not null,
  task_id       text,
  created_at    timestamptz not null default now(),
  primary key (tenant, name, version)
);

create table model_aliases (
  tenant  text not null,
  name    text not null,
  alias   text not null,
  version int not null,
  updated_at timestamptz not null default now(),
  primary key (tenant, name, alias)
);
