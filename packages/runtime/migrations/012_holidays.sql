-- Holidays and events (promotions, launches) per tenant: the forecaster fits
-- them as regressors, so include future occurrences.
create table holidays (
  tenant       text not null,
  name         text not null,
  date         date not null,
  lower_window int not null default 0 check (lower_window <= 0),
  upper_window int not null default 0 check (upper_window >= 0),
  primary key (tenant, name, date)
);
