//! The one error-code table of orgd. Every failure either dialect can answer is an [`ErrorCode`]; it knows
//! its number, its Orgvue name, its HTTP status and its default messages. Dialects only render it.

use serde_json::{Map, Value};

macro_rules! error_codes {
    ($( $variant:ident = $code:literal, $status:literal, $name:literal, $orgvue:literal, $apperian:literal; )*) => {
        /// Every failure orgd can answer, with the shared numeric code of both dialects.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ErrorCode { $( #[doc = $orgvue] $variant, )* }

        impl ErrorCode {
            /// All codes, in table order.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$variant, )* ];
            /// The numeric code (`40101`, `400601`, …).
            pub fn code(self) -> u32 { match self { $( ErrorCode::$variant => $code, )* } }
            /// The HTTP status (the first three digits of the code, except where the dialect says otherwise).
            pub fn status(self) -> u16 { match self { $( ErrorCode::$variant => $status, )* } }
            /// The Orgvue error `name`.
            pub fn name(self) -> &'static str { match self { $( ErrorCode::$variant => $name, )* } }
            /// The Orgvue default message.
            pub fn orgvue_message(self) -> &'static str { match self { $( ErrorCode::$variant => $orgvue, )* } }
            /// The Apperian default message.
            pub fn apperian_message(self) -> &'static str { match self { $( ErrorCode::$variant => $apperian, )* } }
        }
    };
}

error_codes! {
    RouteNotFound = 404000, 404, "RouteNotFound", "No route for this path.", "Resource not found";
    MethodNotAllowed = 405001, 405, "MethodNotAllowed", "This method is not allowed here.", "Method not allowed";
    AuthorizationHeaderEmpty = 40101, 401, "AuthorizationHeaderEmpty", "The Authorization header is missing or empty.", "Missing token or session expired";
    BearerTokenNotFound = 40103, 401, "BearerTokenNotFound", "The Authorization header must use the Bearer scheme.", "Missing token or session expired";
    ApiTokenInvalid = 40102, 401, "ApiTokenInvalid", "The API Token is invalid.", "Missing token or session expired";
    ApiTokenNotYetActive = 40301, 403, "ApiTokenNotYetActive", "The API Token is not active yet.", "Token is not active yet";
    ApiTokenExpired = 40302, 403, "ApiTokenExpired", "The API Token has expired.", "Missing token or session expired";
    ApiTokenSubnetViolation = 40303, 403, "ApiTokenSubnetViolation", "The API Token cannot be used from the current IP address: {ip}", "The API Token cannot be used from the current IP address: {ip}";
    InvalidCredentials = 40111, 401, "InvalidCredentials", "Invalid user ID or password.", "Invalid user ID or password";
    MultipleAccountsFound = 40321, 403, "MultipleAccountsFound", "Several accounts match; specify org_id.", "Several accounts match this user ID; specify org_id";
    UserAccountDisabled = 40322, 403, "UserAccountDisabled", "The user account is disabled.", "User account is disabled";
    UserAccountExpired = 40323, 403, "UserAccountExpired", "The user account has expired.", "User account has expired";
    UserAccountSubnetViolation = 40324, 403, "UserAccountSubnetViolation", "The user account cannot be used from the current IP address: {ip}", "User account cannot be used from the current IP address: {ip}";
    TokenAccessDisabled = 40326, 403, "TokenAccessDisabled", "Token access is disabled for this user.", "Token access is disabled for this user";
    PasswordExpired = 40328, 403, "PasswordExpired", "The password has expired; supply new_password.", "Password has expired; supply new_password";
    PathParameterInvalid = 400601, 400, "PathParameterInvalid", "Path parameter {tenantId} is invalid.", "Path parameter is invalid";
    TenantNotFound = 40401, 404, "TenantNotFound", "Tenant not found.", "Organization not found";
    TenantSubnetViolation = 40325, 403, "TenantSubnetViolation", "The tenant cannot be accessed from the current IP address: {ip}", "Organization cannot be accessed from the current IP address: {ip}";
    TenantUsagePlanNotConfigured = 40345, 403, "TenantUsagePlanNotConfigured", "The API Usage Plan for this tenant is not configured. Please contact support to resolve this issue.", "The API Usage Plan for this tenant is not configured. Please contact support to resolve this issue.";
    Throttled = 42901, 429, "Throttled", "Too many requests.", "Too many requests";
    QuotaExceeded = 42902, 429, "QuotaExceeded", "The daily request quota is exhausted.", "Daily request quota exhausted";
    InsufficientRole = 40331, 403, "InsufficientRole", "Your role does not allow this operation.", "Administrator role required";
    DatasetPermissionDenied = 40332, 403, "DatasetPermissionDenied", "Your permission on this dataset does not allow this operation.", "Your permission on this dataset does not allow this operation";
    PathParameterMustBeUuidString = 400603, 400, "PathParameterMustBeUUIDString", "Path parameter {datasetId} must be a UUID string.", "Path parameter must be a UUID string";
    PathParameterUnsupportedValue = 400604, 400, "PathParameterUnsupportedValue", "Path parameter {format} has an unsupported value.", "Path parameter has an unsupported value";
    QueryParameterInvalid = 400701, 400, "QueryParameterInvalid", "Query parameter is invalid.", "Query parameter is invalid";
    ContentTypeIsNotImplemented = 415001, 415, "ContentTypeIsNotImplemented", "The content type header value you provided is not implemented, please use application/json instead.", "Use application/json";
    RequestTimeout = 408001, 408, "RequestTimeout", "The request body did not arrive in time.", "Request body did not arrive in time";
    PayloadTooLarge = 413001, 413, "PayloadTooLarge", "The request body is too large.", "Request body too large";
    RequestMalformed = 400001, 400, "RequestMalformed", "The request line or a header is not valid HTTP.", "Malformed request";
    UriTooLong = 414001, 414, "UriTooLong", "The request's path and query are too long; send long filters in a POST body.", "Request URI too long";
    HeaderFieldsTooLarge = 431001, 431, "HeaderFieldsTooLarge", "The request's headers are too large.", "Request headers too large";
    RequestBodyNotJson = 400801, 400, "RequestBodyNotJson", "The request body is not valid JSON.", "Request body is not valid JSON";
    RequestBodyInvalid = 400802, 400, "RequestBodyInvalid", "The request body is invalid.", "Request body is invalid";
    DatasetNotFound = 404001, 404, "DatasetNotFound", "Dataset not found.", "Dataset not found";
    ItemNotFound = 404002, 404, "ItemNotFound", "Item not found.", "Item not found";
    JobNotFound = 404003, 404, "JobNotFound", "Job not found.", "Job not found";
    UserNotFound = 404004, 404, "UserNotFound", "User not found.", "User not found";
    FileNotFound = 404005, 404, "FileNotFound", "File not found.", "File not found";
    TokenNotFound = 404006, 404, "TokenNotFound", "Token not found.", "Token not found";
    DraftNotFound = 404007, 404, "DraftNotFound", "Draft not found.", "Draft not found";
    PropertyNotFound = 404008, 404, "PropertyNotFound", "Property not found.", "Property not found";
    WebhookNotFound = 404009, 404, "WebhookNotFound", "Webhook not found.", "Webhook not found";
    DeliveryNotFound = 404010, 404, "DeliveryNotFound", "Webhook delivery not found.", "Webhook delivery not found";
    Conflict = 409001, 409, "Conflict", "The request conflicts with the current state.", "Conflict";
    PresignedUrlInvalid = 40350, 403, "PresignedUrlInvalid", "The presigned URL is invalid or has expired.", "The presigned URL is invalid or has expired";
    RemoteLocationFailed = 502001, 502, "RemoteLocationFailed", "Remote location failed.", "Remote location failed";
    ServiceUnavailable = 503001, 503, "ServiceUnavailable", "The service is temporarily unavailable; try again shortly.", "Service temporarily unavailable";
    InternalError = 500001, 500, "InternalError", "Internal error.", "Internal error";
}

impl ErrorCode {
    /// True for the codes that mean "no usable credential", which the Apperian dialect answers with 401
    /// and its fixed message.
    pub fn is_missing_credential(self) -> bool {
        matches!(
            self,
            ErrorCode::AuthorizationHeaderEmpty
                | ErrorCode::BearerTokenNotFound
                | ErrorCode::ApiTokenInvalid
                | ErrorCode::ApiTokenExpired
        )
    }
}

/// One validation fault inside a request: which field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldFault {
    /// The field path (`properties[2].type`, `subnets[0]`, `user_id`).
    pub field: String,
    /// What is wrong, in words a client can act on.
    pub message: String,
}

/// A failure the server answers with: a code, an optional specific message, extra context fields
/// (`pathParameter`, `queryParameter`, `ip`, …), optional field faults and an optional `Retry-After`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// The code.
    pub code: ErrorCode,
    /// A specific message; `None` = the dialect's default message for the code.
    pub message: Option<String>,
    /// Context fields rendered beside `name`/`code`/`message` in the Orgvue envelope.
    pub context: Map<String, Value>,
    /// Field faults (validation errors).
    pub faults: Vec<FieldFault>,
    /// Seconds the client should wait (429 responses).
    pub retry_after: Option<u64>,
    /// Extra headers (`RateLimit-*`) to send with the error.
    pub headers: Vec<(&'static str, String)>,
    /// Ready-made Orgvue error objects (item-action failures), rendered instead of this error's own.
    pub listed: Vec<Value>,
    /// Said after the dialect's default message (where exactly the input is at fault).
    pub detail: Option<String>,
}

impl ApiError {
    /// An error with the code's default message.
    pub fn new(code: ErrorCode) -> Self {
        ApiError {
            code,
            message: None,
            context: Map::new(),
            faults: Vec::new(),
            retry_after: None,
            headers: Vec::new(),
            listed: Vec::new(),
            detail: None,
        }
    }

    /// Say more after the default message of either dialect, which stays as it is.
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// Replace the message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = Some(message.into());
        self
    }

    /// Add a context field.
    pub fn with_context(mut self, key: &str, value: impl Into<Value>) -> Self {
        self.context.insert(key.to_string(), value.into());
        self
    }

    /// A request-body fault naming the field.
    pub fn invalid_field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::invalid_fields(vec![FieldFault { field: field.into(), message: message.into() }])
    }

    /// A request-body fault listing every faulty field.
    pub fn invalid_fields(faults: Vec<FieldFault>) -> Self {
        let message = faults.iter().map(|f| format!("{}: {}", f.field, f.message)).collect::<Vec<_>>().join("; ");
        ApiError { faults, ..ApiError::new(ErrorCode::RequestBodyInvalid).with_message(message) }
    }

    /// A query parameter fault.
    pub fn invalid_query(name: &str, why: &str) -> Self {
        ApiError::new(ErrorCode::QueryParameterInvalid)
            .with_message(format!("Query parameter {name} is invalid: {why}"))
            .with_context("queryParameter", name)
    }

    /// A path parameter that is not UTF-8 once percent-decoded (`name` without braces).
    pub fn undecodable_path(name: &str) -> Self {
        ApiError::new(ErrorCode::PathParameterInvalid)
            .with_message(format!("Path parameter {{{name}}} is not valid UTF-8 once percent-decoded."))
            .with_context("pathParameter", format!("{{{name}}}"))
    }

    /// An IP-rule refusal, whose messages carry the address.
    pub fn ip_refusal(code: ErrorCode, ip: &str) -> Self {
        ApiError::new(code).with_context("ip", ip)
    }

    /// The message in the Orgvue dialect.
    pub fn orgvue_message(&self) -> String {
        self.message.clone().unwrap_or_else(|| self.fill(self.code.orgvue_message()))
    }

    /// The message in the Apperian dialect.
    pub fn apperian_message(&self) -> String {
        if self.code.is_missing_credential() {
            return self.code.apperian_message().to_string();
        }
        self.message.clone().unwrap_or_else(|| self.fill(self.code.apperian_message()))
    }

    fn fill(&self, template: &str) -> String {
        let filled = match self.context.get("ip").and_then(Value::as_str) {
            Some(ip) => template.replace("{ip}", ip),
            None => template.to_string(),
        };
        match &self.detail {
            Some(d) => format!("{}: {d}", filled.trim_end_matches('.')),
            None => filled,
        }
    }
}

impl From<ErrorCode> for ApiError {
    fn from(code: ErrorCode) -> Self {
        ApiError::new(code)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.code.code(), self.code.name(), self.orgvue_message())
    }
}

impl std::error::Error for ApiError {}

/// A store failure: not the client's fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was violated (the message names what).
    #[error("conflict: {0}")]
    Conflict(String),
    /// The database could not be reached.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// Anything else.
    #[error("database error: {0}")]
    Other(String),
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => ApiError::new(ErrorCode::Conflict).with_message(what),
            StoreError::Unavailable(why) => {
                tracing::warn!(error = %why, "store unavailable");
                ApiError::new(ErrorCode::ServiceUnavailable)
            }
            StoreError::Other(why) => {
                tracing::error!(error = %why, "store error");
                ApiError::new(ErrorCode::InternalError)
            }
        }
    }
}
