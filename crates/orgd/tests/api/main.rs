//! Black-box tests of orgd over HTTPS on a real socket, each with its own database.

mod bulk;
mod cli;
mod console;
mod contract;
mod crash;
mod datasets;
mod doors;
mod drafts;
mod evolve;
mod grants;
mod helpers;
mod hostile;
mod isolation;
mod jobs;
mod login;
mod nodes;
mod orgs;
mod outage;
mod pipeline;
mod postgres;
mod requests;
mod secrets;
mod standin;
mod standin_cli;
mod tokens;
mod users;
