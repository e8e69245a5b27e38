mod common;
mod incidents;
mod overview;
mod postgres;
mod readme;
mod rules;
mod telemetry;
