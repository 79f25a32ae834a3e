//! One module per subcommand.

pub(crate) mod config;
#[cfg(feature = "mock")]
pub(crate) mod demo;
pub(crate) mod man;
#[cfg(feature = "mock")]
pub(crate) mod mock_forge;
pub(crate) mod pipeline;
pub(crate) mod pr_command;
pub(crate) mod publish;
pub(crate) mod release;
pub(crate) mod runs;
pub(crate) mod scale;
pub(crate) mod serve;
pub(crate) mod tasks;
