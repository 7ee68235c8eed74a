//! `Live<T>`: a value many readers share and one writer replaces whole (the
//! configuration and the compiled tenants, swapped by a reload).

use std::sync::Arc;

use arc_swap::ArcSwap;

/// A shared, swappable value: every clone sees the same value, and
/// [`Live::store`] replaces it for all of them at once. Readers never wait
/// for a writer; a reader keeps the value it loaded for as long as it holds
/// it, so one request reads one configuration from start to end.
///
/// ```
/// use switchboard_config::Live;
///
/// let page_size = Live::new(100);
/// let reader = page_size.clone();
/// let before = reader.load();
/// page_size.store(50);
/// assert_eq!(*before, 100, "what was loaded stays as it was");
/// assert_eq!(*reader.load(), 50, "a new load sees the new value");
/// ```
pub struct Live<T>(Arc<ArcSwap<T>>);

impl<T> Live<T> {
    /// A handle holding `value`.
    pub fn new(value: T) -> Self {
        Self(Arc::new(ArcSwap::from_pointee(value)))
    }

    /// The value now. Cheap (no lock, one reference count); load once per
    /// use rather than holding the `Arc` for long.
    pub fn load(&self) -> Arc<T> {
        self.0.load_full()
    }

    /// Look at the value now without taking a reference count (for a
    /// glance on every request); `f` must not keep it.
    pub fn peek<R>(&self, f: impl FnOnce(&T) -> R) -> R {
        f(&self.0.load())
    }

    /// Replace the value for every clone of this handle.
    pub fn store(&self, value: T) {
        self.0.store(Arc::new(value));
    }
}

impl<T> Clone for Live<T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<T: Default> Default for Live<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Live<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Live").field(&*self.0.load()).finish()
    }
}
