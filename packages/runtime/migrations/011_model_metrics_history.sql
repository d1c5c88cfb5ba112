-- Scheduled re-scoring of production models on their latest data (the
-- validate-models schedule): one row per check, with the drift from the
-- metrics the version had when it was trained.
create table model_metrics_history (
  tenant      text not null,
  name        text not null,
  version     int not null,
  checked_at  timestamptz not null default now(),
  dataset_id  text not null,
  rows        int not null,
  metrics     jsonb not null,
  drift       jsonb not null,
  task_id     text
);
create index model_metrics_history_model on model_metrics_history (tenant, name, version, checked_at desc);
