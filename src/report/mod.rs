//! Markdown and JSON reports and the game-day scorecard. Filled by the engine issue;
//! nothing here yet.
