//! Nothing here: this package exists for `examples/crawl.rs`, verdant's
//! main demo (`cargo run --release --example crawl` from the repository's
//! root). Keeping it out of the `verdant` package means its first build
//! compiles only verdant and its normal dependencies, not the certificate
//! generator and property-testing crates verdant's own tests use.
