//! The legal rules of overload control: what a vehicle may weigh and measure, and what follows
//! when it weighs or measures more.
//!
//! Everything here is a pure function of its inputs so that the phone (offline, at the
//! roadside), the sync server (weighing ingest, alerts) and the supervisors' console compute the
//! same verdict from the same measurement and the same [`RulesConfig`]. Figures fixed by a text
//! are constants with their source; figures no text fixes (REFERENCE.md marks them
//! *configurable*) come from [`RulesConfig`].
//!
//! - [`vehicle`]: the vehicle configuration (车型: axles, body type, drive axles, tyres,
//!   suspension) and its gross mass limit per 交通运输部令2016年第62号 Art. 3 and the table of
//!   交公路发〔2016〕124号; dimension limits.
//! - [`classify`]: a measurement → compliant / over-limit (超限) with excess, 超限率 and the
//!   Art. 43 penalty estimate; over rated payload (超载) separately with the licence-point tier.
//! - [`config`]: [`RulesConfig`], loadable from TOML.

pub mod classify;
pub mod config;
pub mod vehicle;

pub use classify::{
    Classification, ClassifyError, DimensionExcess, Measurement, Overload, PenaltyEstimate, Rate,
    classify,
};
pub use config::{PartTonneRounding, PenaltySubject, RulesConfig, RulesConfigError};
pub use vehicle::{
    BodyType, ConfigurationError, Detail, Dimension, DriveAxleTyres, LimitDetermination,
    Suspension, VehicleConfiguration,
};
