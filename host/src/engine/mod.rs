//! The just-in-time provisioning engine: the `Host` that runs the login flow
//! over the store, the authentication providers and the plugin runtime.

mod accounts;
mod admin;
mod apply;
mod audit;
mod breaker;
mod compare;
mod decide;
mod error;
mod flow;
mod observe;
mod plan;
mod playground;
mod replay;
mod shadow;
mod slots;

use std::sync::Arc;
use std::time::Duration;

pub use admin::{AdminError, BINDING_CHANGED, UploadedPlugin, binding_settings, is_login_outcome};
pub use breaker::{BreakerPolicy, CircuitChange};
pub use decide::canary_bucket;
pub use error::{HookFailure, LoginError, Rule};
pub use observe::{Hook, LoginObserver, PluginCall};
pub use playground::{PlaygroundReport, PlaygroundRun, TrialPlugin};
pub use replay::{CreationChanges, MAX_REPLAY_LOGINS, MembershipChange, ReplayExample, ReplayReport, ReplayRequest};
pub use shadow::{SHADOW_AGREED, SHADOW_DIFFERED, ShadowPolicy, ShadowResult};

use crate::auth::{AuthServices, Credential};
use crate::plugin::Principal;
use crate::runtime::{Runtime, RuntimeConfig};
use crate::store::{Account, DatabaseUrl, NamedMembership, Store, StoreError};

/// One login attempt.
#[derive(Debug, Clone)]
pub struct LoginRequest {
    /// The domain's name; when absent it is found from the email's domain
    /// part (password logins only).
    pub domain: Option<String>,
    /// What the user presented.
    pub credential: Credential,
    /// The client's address, when known: password attempts are throttled
    /// per source address as well as per account.
    pub source: Option<std::net::IpAddr>,
}

/// A successful login.
#[derive(Debug, Clone)]
pub struct LoginSuccess {
    /// The account, as committed.
    pub account: Account,
    /// True when the account was created by this login.
    pub newly_created: bool,
    /// What the provider vouched for.
    pub principal: Principal,
    /// The account's memberships in the domain's organization.
    pub memberships: Vec<NamedMembership>,
    /// How long the login took.
    pub duration: Duration,
}

/// Why a `Host` could not be built.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HostError {
    /// The store could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The plugin runtime could not start.
    #[error(transparent)]
    Runtime(#[from] crate::runtime::RuntimeError),
    /// The authentication services could not be built.
    #[error("authentication services: {0}")]
    Auth(String),
}

/// The provisioning host: one per process, cheap to clone.
#[derive(Clone)]
pub struct Host {
    store: Store,
    runtime: Runtime,
    auth: Arc<AuthServices>,
    observers: Arc<[Arc<dyn LoginObserver>]>,
    slots: Arc<slots::OrgSlots>,
    /// Compiles in flight per organization: one.
    compiles: Arc<slots::OrgSlots>,
    /// The circuit of each bound plugin.
    breakers: Arc<breaker::Breakers>,
    /// The shadow versions' queue, lanes and runners.
    shadows: Arc<shadow::Shadows>,
}

/// Plugin calls one organization may have in flight at once, by default:
/// half this machine's cores, at least one, so that one organization's
/// spinning plugins can take at most half the CPU from the others (see
/// BENCHMARKS.md, "A noisy neighbour").
pub fn default_plugin_calls_per_org() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get() / 2).max(1)
}
/// How long a compile waits for its organization's compile slot.
const COMPILE_SLOT_WAIT: Duration = Duration::from_secs(300);

/// How long a plugin call waits for a slot of its organization, by default.
pub const PLUGIN_SLOT_WAIT: Duration = Duration::from_secs(10);

/// Builds a [`Host`].
#[derive(Default)]
pub struct HostBuilder {
    auth_builder: Option<crate::auth::AuthServicesBuilder>,
    plugin_calls_per_org: Option<usize>,
    plugin_slot_wait: Option<Duration>,
    store: Option<Store>,
    url: Option<DatabaseUrl>,
    runtime: Option<Runtime>,
    runtime_config: RuntimeConfig,
    auth: Option<Arc<AuthServices>>,
    observers: Vec<Arc<dyn LoginObserver>>,
    breaker: Option<BreakerPolicy>,
    shadow: Option<ShadowPolicy>,
}

impl HostBuilder {
    /// When a bound plugin's circuit opens, and for how long (default
    /// [`BreakerPolicy::default`]).
    pub fn breaker(mut self, policy: BreakerPolicy) -> Self {
        self.breaker = Some(policy);
        self
    }

    /// How much shadow work the host takes on (default
    /// [`ShadowPolicy::default`]).
    pub fn shadow(mut self, policy: ShadowPolicy) -> Self {
        self.shadow = Some(policy);
        self
    }

    /// Uses this database (SQLite file or PostgreSQL URL); migrations run at build.
    pub fn database_url(mut self, url: DatabaseUrl) -> Self {
        self.url = Some(url);
        self
    }

    /// Uses an already opened store.
    pub fn store(mut self, store: Store) -> Self {
        self.store = Some(store);
        self
    }

    /// Shares an existing plugin runtime.
    pub fn runtime(mut self, runtime: Runtime) -> Self {
        self.runtime = Some(runtime);
        self
    }

    /// Configures the plugin runtime this host starts.
    pub fn runtime_config(mut self, config: RuntimeConfig) -> Self {
        self.runtime_config = config;
        self
    }

    /// Uses these authentication services (hasher, throttle, JWKS cache, clock).
    pub fn auth_services(mut self, auth: Arc<AuthServices>) -> Self {
        self.auth = Some(auth);
        self
    }

    /// Builds the authentication services from `builder`, with the store
    /// as the password throttle's ledger (unless [`HostBuilder::auth_services`]
    /// gives ready-made ones).
    pub fn auth_builder(mut self, builder: crate::auth::AuthServicesBuilder) -> Self {
        self.auth_builder = Some(builder);
        self
    }

    /// Reports every plugin call of every login to `observer` (see
    /// [`LoginObserver`]); may be given several times.
    pub fn observer(mut self, observer: Arc<dyn LoginObserver>) -> Self {
        self.observers.push(observer);
        self
    }

    /// Plugin calls one organization may have in flight at once (default
    /// [`default_plugin_calls_per_org`]); its further calls wait for one of its own
    /// slots, at most [`PLUGIN_SLOT_WAIT`], so one organization's slow
    /// plugins never hold up another's logins.
    pub fn plugin_calls_per_org(mut self, calls: usize) -> Self {
        self.plugin_calls_per_org = Some(calls);
        self
    }

    /// How long a plugin call waits for a slot of its organization before
    /// its login fails with `plugin-calls-saturated` (default
    /// [`PLUGIN_SLOT_WAIT`]).
    pub fn plugin_slot_wait(mut self, wait: Duration) -> Self {
        self.plugin_slot_wait = Some(wait);
        self
    }

    /// Opens the store, starts the runtime, and returns the host.
    pub async fn build(self) -> Result<Host, HostError> {
        let store = match (self.store, self.url) {
            (Some(store), _) => store,
            (None, Some(url)) => Store::open(&url).await?,
            (None, None) => Store::open(&DatabaseUrl::new("sqlite://provisio.db?mode=rwc")).await?,
        };
        let runtime = match self.runtime {
            Some(r) => r,
            None => Runtime::new(self.runtime_config)?,
        };
        let auth = match self.auth {
            Some(a) => a,
            // The password throttle counts in the store: shared by every
            // host on the database.
            None => Arc::new(
                self.auth_builder
                    .unwrap_or_default()
                    .attempt_ledger(Arc::new(store.clone()))
                    .build()
                    .map_err(|e| HostError::Auth(e.to_string()))?,
            ),
        };
        let slots = slots::OrgSlots::new(
            self.plugin_calls_per_org.unwrap_or_else(default_plugin_calls_per_org),
            self.plugin_slot_wait.unwrap_or(PLUGIN_SLOT_WAIT),
        );
        // One compile per organization at once; the runtime bounds them in total.
        let compiles = Arc::new(slots::OrgSlots::new(1, COMPILE_SLOT_WAIT));
        let breakers = Arc::new(breaker::Breakers::new(self.breaker.unwrap_or_default()));
        let shadows = Arc::new(shadow::Shadows::new(self.shadow.unwrap_or_default(), self.breaker.unwrap_or_default()));
        Ok(Host {
            store,
            runtime,
            auth,
            observers: self.observers.into(),
            slots: Arc::new(slots),
            compiles,
            breakers,
            shadows,
        })
    }
}

impl Host {
    /// Starts building a host.
    pub fn builder() -> HostBuilder {
        HostBuilder::default()
    }

    /// The store, for admin operations.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The plugin runtime.
    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    /// The authentication services (the password throttle's ledger among
    /// them), shared by every login of this host.
    pub fn auth(&self) -> &Arc<AuthServices> {
        &self.auth
    }

    /// A host sharing this one's store, runtime and authentication services
    /// that also reports its plugin calls to `observer`.
    pub fn with_observer(&self, observer: Arc<dyn LoginObserver>) -> Host {
        let observers = self.observers.iter().cloned().chain([observer]).collect();
        Host { observers, ..self.clone() }
    }

    /// An audit event could not be written: logged, and counted by the
    /// observers (`/metrics`), never dropped silently.
    fn audit_write_failed(&self, error: &StoreError) {
        tracing::error!(error = %error, "an audit event could not be written");
        for observer in self.observers.iter() {
            observer.audit_write_failed();
        }
    }

    /// Records a change of a bound plugin's circuit in the organization's
    /// audit log, and tells the observers.
    async fn circuit_changed(&self, org: &crate::store::OrgId, circuit: &breaker::CircuitKey, change: CircuitChange) {
        tracing::warn!(
            plugin = circuit.plugin.as_str(),
            hook = circuit.hook.as_str(),
            change = change.outcome(),
            "plugin circuit"
        );
        for observer in self.observers.iter() {
            observer.circuit_changed(circuit.hook, change);
        }
        let mut detail = serde_json::json!({
            "provider_id": circuit.provider,
            "hook": circuit.hook.as_str(),
            "plugin": circuit.plugin,
        });
        if let CircuitChange::Opened { failures, calls } = change {
            detail["failures"] = failures.into();
            detail["calls"] = calls.into();
        }
        let event = crate::store::NewAuditEvent {
            at: crate::store::now_ms(),
            org: Some(org.clone()),
            domain: Some(circuit.domain.clone()),
            provider: None,
            account: None,
            outcome: change.outcome().into(),
            rule: None,
            detail: detail.to_string(),
        };
        if let Err(e) = self.store.append_audit(&event).await {
            self.audit_write_failed(&e);
        }
    }

    /// Removes the principal from the audit events older than `retention`
    /// (by the authentication services' clock): a login's event keeps the
    /// principal the plugins saw, which is personal data, only that long;
    /// the rest of the event stays. How many events changed.
    pub async fn forget_audit_principals(&self, retention: Duration) -> Result<u64, StoreError> {
        let now = self.auth.clock().now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let before = i64::try_from(now.saturating_sub(retention).as_millis()).unwrap_or(i64::MAX);
        self.store.forget_audit_principals(before).await
    }

    /// Runs the login flow: authenticate, find or create the account, accept
    /// invitations, apply memberships, all committed in one transaction with
    /// an audit event. A failed login writes only its audit event.
    pub async fn login(&self, request: LoginRequest) -> Result<LoginSuccess, LoginError> {
        flow::login(self, request).await
    }
}

#[cfg(test)]
mod tests {
    /// A login can run on any executor thread (an HTTP handler needs this).
    #[allow(dead_code)]
    fn login_future_is_send(host: &super::Host, request: super::LoginRequest) {
        fn send<T: Send>(_: T) {}
        send(host.login(request));
    }
}
