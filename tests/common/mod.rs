//! The shared test shop lives in the library's test kit, so examples use it too.
#![allow(unused_imports)]

pub use orderflow::testing::shop::{SKUS, Shop, sku};
