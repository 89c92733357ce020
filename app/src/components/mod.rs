//! Display-only building blocks shared by the pages (no server functions here).

pub mod account_menu;
pub mod empty_state;
pub mod layout;
pub mod page_header;
pub mod theme_toggle;
