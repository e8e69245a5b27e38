mod common;
mod executor;
mod graph;
mod recovery;
mod schedule;
mod store;
mod workers;
