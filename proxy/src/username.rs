//! The proxy username grammar `USER[-country-CC][-city-NAME][-session-ID][-ttl-MINUTES]`,
//! defined in `wire` because the dashboard's connection builder builds what the gateway parses;
//! re-exported so the gateway's modules and the fuzz targets keep their paths.

pub use wire::username::*;
