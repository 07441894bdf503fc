//! TEMPORARY stub: replaced by the real overflow handler (helper in progress).
pub(crate) fn ensure_altstack() {}
pub(crate) fn enter(_lo: usize, _hi: usize, _id: u64, _name: Option<&str>, _size: usize) {}
pub(crate) fn leave() {}
pub(crate) fn install() {}
