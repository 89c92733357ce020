//! Display-only building blocks shared by the pages (no server functions here).

pub mod account_menu;
pub mod chart;
pub mod dunning_banner;
pub mod empty_state;
pub mod layout;
pub mod live_feed;
pub mod live_tiles;
pub mod load_error;
pub mod outcome;
pub mod page_header;
pub mod range_picker;
pub mod remove_button;
pub mod session_inspector;
pub mod table;
pub mod theme_toggle;
