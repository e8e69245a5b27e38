//! pulse-web's tests: the pages rendered from fixed data (snapshots), and the server over a real
//! SQLite store — through the router in process, and over a real socket. The catalog's pages
//! render the real example project with a real catalog store in a temporary folder.

mod api;
mod auth;
mod catalog;
mod dashboards;
mod fixtures;
mod ops;
mod pages;
mod render;
mod server;
