//! Fault hooks: scripted failures at named points of the store (an accept,
//! a crash after its inserts, one submission, a step save). Compiled only
//! for tests (`cfg(test)` or the `test-util` feature); in a production build
//! [`FaultHooks`] is empty and every check is a no-op.

#[cfg(any(test, feature = "test-util"))]
pub(super) use enabled::FaultHooks;

#[cfg(not(any(test, feature = "test-util")))]
pub(super) use disabled::FaultHooks;

#[cfg(any(test, feature = "test-util"))]
mod enabled {
    use std::sync::Arc;

    use formlead_core::ports::FromRetry;

    use crate::sandbox::Faults;

    /// The store's scripted faults.
    #[derive(Debug, Clone, Default)]
    pub(crate) struct FaultHooks(Arc<Faults>);

    impl FaultHooks {
        /// Fails now if a fault is queued for `op`.
        pub(crate) async fn check<E: FromRetry>(&self, op: &str) -> Result<(), E> {
            self.0.before::<E>(op).await.map(drop)
        }

        /// [`Self::check`] for a point named after one item; the name is only
        /// built in test builds.
        pub(crate) async fn check_item<E: FromRetry>(
            &self,
            op: impl FnOnce() -> String,
        ) -> Result<(), E> {
            self.0.before_item::<E>(&op()).await.map(drop)
        }

        pub(crate) fn faults(&self) -> &Faults {
            &self.0
        }
    }
}

#[cfg(not(any(test, feature = "test-util")))]
mod disabled {
    use formlead_core::ports::FromRetry;

    /// No faults in a production build.
    #[derive(Debug, Clone, Default)]
    pub(crate) struct FaultHooks;

    impl FaultHooks {
        #[inline]
        pub(crate) async fn check<E: FromRetry>(&self, _op: &str) -> Result<(), E> {
            Ok(())
        }

        #[inline]
        pub(crate) async fn check_item<E: FromRetry>(
            &self,
            _op: impl FnOnce() -> String,
        ) -> Result<(), E> {
            Ok(())
        }
    }
}
