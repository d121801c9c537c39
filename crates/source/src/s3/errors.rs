//! Turning SDK errors into one line a user can act on — and nothing secret.

use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

/// `<operation> failed: <code>: <message> (HTTP <status>)`, plus a hint for the usual causes.
/// Only the error code, AWS's message and the status are shown: never request headers,
/// signatures or credentials.
pub(crate) fn describe<E: ProvideErrorMetadata + std::error::Error + 'static>(
    operation: &str,
    error: &SdkError<E, HttpResponse>,
) -> String {
    let status = error.raw_response().map(|r| r.status().as_u16());
    let mut text = match error {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let code = inner.code().unwrap_or("error");
            match inner.message() {
                Some(message) => format!("{operation} failed: {code}: {message}"),
                None => format!("{operation} failed: {code}"),
            }
        }
        SdkError::TimeoutError(_) => format!("{operation} timed out"),
        SdkError::DispatchFailure(failure) => {
            let kind = if failure.is_timeout() {
                "timed out"
            } else if failure.is_io() {
                "network error"
            } else {
                "could not send the request"
            };
            format!("{operation} failed: {kind}: {}", source_chain(error))
        }
        SdkError::ResponseError(_) => format!("{operation} failed: unreadable response: {}", source_chain(error)),
        SdkError::ConstructionFailure(_) => format!("{operation} failed: {}", source_chain(error)),
        _ => format!("{operation} failed: {}", source_chain(error)),
    };
    if let Some(status) = status {
        text.push_str(&format!(" (HTTP {status})"));
    }
    if let Some(hint) = hint(error.as_service_error().and_then(|e| e.code()), status) {
        text.push_str("; ");
        text.push_str(hint);
    } else if text.contains("no providers in chain provided credentials") {
        text.push_str(
            "; no AWS credentials found: set AWS_PROFILE (after `aws sso login` for SSO profiles) or \
             AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where a role is available",
        );
    }
    text
}

fn hint(code: Option<&str>, status: Option<u16>) -> Option<&'static str> {
    match (code, status) {
        (Some("AccessDenied"), _) | (_, Some(403)) => {
            Some("the credentials in use need s3:ListBucket on the bucket and s3:GetObject on the prefix")
        }
        (Some("NoSuchBucket"), _) => Some("check the bucket name and the endpoint"),
        (Some("PermanentRedirect" | "AuthorizationHeaderMalformed"), _) | (_, Some(301)) => {
            Some("the bucket is in another region: set AWS_REGION to the bucket's region")
        }
        _ => None,
    }
}

/// The error and its causes on one line (the SDK nests the useful part).
fn source_chain(error: &dyn std::error::Error) -> String {
    let mut parts = Vec::new();
    let mut current: Option<&dyn std::error::Error> = error.source();
    while let Some(e) = current {
        let text = e.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        current = e.source();
    }
    if parts.is_empty() { error.to_string() } else { parts.join(": ") }
}
