//! The console: app state and update, keymaps, event loop, screens, widgets, themes.
//! Filled by the console issue; nothing here yet.
