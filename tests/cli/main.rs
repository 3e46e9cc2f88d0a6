//! End-to-end tests of the `changelog-tail` binary: real files, real
//! rotation, real pipes and signals.

mod harness;
mod writer;

mod exit_codes;
mod following;
mod holes;
mod invalid;
mod output;
mod pipe;
mod reliability;
mod resume;
mod rows;
mod scenarios;
mod status;
