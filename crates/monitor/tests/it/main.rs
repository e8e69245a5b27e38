mod common;
mod incidents;
mod postgres;
mod rules;
mod telemetry;
