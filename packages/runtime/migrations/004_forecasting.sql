-- Daily (or weekly/monthly) sales history per product SKU, tenant-scoped.
-- Re-sending a day replaces it (idempotent per sku + date).
create table sales (
  tenant      text not null,
  product_sku text not null,
  date        date not null,
  quantity    double precision not null check (quantity >= 0),
  updated_at  timestamptz not null default now(),
  primary key (tenant, product_sku, date)
);

-- The current forecasting model of each SKU.
create table product_models (
  tenant        text not null,
  product_sku   text not null,
  status        text not null default 'none',
  model_version int not null default 0,
  model         jsonb,
  method        text,
  accuracy      jsonb,
  trained_at    timestamptz,
  training_task_id text,
  history_rows  int,
  updated_at    timestamptz not null default now(),
  primary key (tenant, product_sku)
);
