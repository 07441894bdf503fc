//! Synchronisation between green threads (and OS threads).

pub(crate) mod wait_list;
