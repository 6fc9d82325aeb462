//! One module per subcommand.

mod common;
pub mod du;
pub mod pack;
pub mod rm;
