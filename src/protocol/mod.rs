pub mod rocketride;
pub mod fleet_rlm;
