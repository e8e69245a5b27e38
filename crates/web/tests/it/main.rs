//! pulse-web's tests: the pages rendered from fixed data (snapshots), and the server over a real
//! SQLite store — through the router in process, and over a real socket.

mod api;
mod auth;
mod dashboards;
mod fixtures;
mod pages;
mod render;
mod server;
