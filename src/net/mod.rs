//! Networking: name resolution (`dns`). Sockets live beside it.

mod dns;

pub use dns::{
    lookup_host, lookup_host_port, LookupHost, ResolveError, ResolveErrorKind, Resolver, ResolverBuilder, ResolverMode,
    DEFAULT_CACHE_SIZE, DEFAULT_MAX_IN_FLIGHT,
};
#[allow(unused_imports)] // used by the sockets' address resolution
pub(crate) use dns::{resolve_host_port, resolve_socket_addrs};
