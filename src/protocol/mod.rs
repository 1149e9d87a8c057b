pub mod rocketride;
