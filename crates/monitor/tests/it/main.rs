mod common;
mod rules;
