//! The console: one loop owns the app state; keys, engine events and ticks become
//! messages that `update` folds into the state; screens draw the state without I/O.
//!
//! - `app`, `msg`, `keymap`, `update`: the state, what enters it, what keys mean;
//! - `event_loop`, `terminal_guard`, `engine_link`, `reachability`: the loop, the
//!   terminal, and the tasks that do I/O for the console;
//! - `live`, `history`: the data the dashboard and history screens show;
//! - `screens/`: one file per screen; `widgets/`: charts and tables they share;
//! - `theme`: colours by meaning.

pub mod app;
pub mod console;
pub mod draw;
pub mod engine_link;
pub mod event_loop;
pub(crate) mod fit;
pub mod gate;
pub mod history;
pub mod keymap;
pub mod live;
pub mod msg;
pub mod reachability;
pub mod screens;
pub mod terminal_guard;
pub mod theme;
pub mod theme_file;
pub mod update;
mod update_run;
mod update_text;
pub mod widgets;
